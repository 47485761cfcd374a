// SPDX-License-Identifier: GPL-2.0-only
/*
 * kselftest suite "device": the /dev/vhost-iommu misc device and the
 * module's lifetime around open files.
 *
 * The unload tests need the module's path in VHOST_IOMMU_KO (the VM
 * runner sets it) so the module can be loaded again afterwards.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"

#define DEV_PATH	"/dev/vhost-iommu"
#define MOD_NAME	"vhost_iommu"

static int read_int_file(const char *path)
{
	char buf[32] = {};
	int fd, n;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? atoi(buf) : -1;
}

static int module_refcnt(void)
{
	return read_int_file("/sys/module/" MOD_NAME "/refcnt");
}

/* devtmpfs creates and removes nodes asynchronously. */
static bool wait_node(bool present)
{
	struct stat st;
	int i;

	for (i = 0; i < 200; i++) {
		if ((stat(DEV_PATH, &st) == 0) == present)
			return true;
		usleep(10000);
	}
	return false;
}

static int load_module(const char *path)
{
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ret = syscall(SYS_finit_module, fd, "", 0);
	close(fd);
	return ret;
}

static int unload_module(void)
{
	return syscall(SYS_delete_module, MOD_NAME, O_NONBLOCK);
}

TEST(node_is_misc_char_device)
{
	unsigned int major, minor;
	char buf[32] = {};
	char *end;
	struct stat st;
	int fd, n;

	ASSERT_EQ(0, stat(DEV_PATH, &st));
	ASSERT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(0600u, st.st_mode & 0777);

	/* The node is the one the misc class registered. */
	fd = open("/sys/class/misc/vhost-iommu/dev", O_RDONLY);
	ASSERT_LE(0, fd);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	ASSERT_LT(0, n);
	major = strtoul(buf, &end, 10);
	ASSERT_EQ(':', *end);
	minor = strtoul(end + 1, NULL, 10);
	EXPECT_EQ(10u, major);
	EXPECT_EQ(major, major(st.st_rdev));
	EXPECT_EQ(minor, minor(st.st_rdev));
}

TEST(open_close)
{
	int fd;

	fd = open(DEV_PATH, O_RDWR);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, close(fd));
}

TEST(open_holds_module_reference)
{
	int before, fd;

	before = module_refcnt();
	ASSERT_LE(0, before);
	fd = open(DEV_PATH, O_RDWR);
	ASSERT_LE(0, fd);
	EXPECT_EQ(before + 1, module_refcnt());
	ASSERT_EQ(0, close(fd));
	EXPECT_EQ(before, module_refcnt());
}

TEST(two_opens_are_independent)
{
	int before, a, b;

	before = module_refcnt();
	ASSERT_LE(0, before);
	a = open(DEV_PATH, O_RDWR);
	ASSERT_LE(0, a);
	b = open(DEV_PATH, O_RDWR);
	ASSERT_LE(0, b);
	EXPECT_EQ(before + 2, module_refcnt());

	/* Closing one instance leaves the other open and usable. */
	ASSERT_EQ(0, close(a));
	EXPECT_EQ(before + 1, module_refcnt());
	EXPECT_LE(0, fcntl(b, F_GETFD));
	EXPECT_EQ(-1, lseek(b, 0, SEEK_SET));
	EXPECT_EQ(ESPIPE, errno);
	ASSERT_EQ(0, close(b));
	EXPECT_EQ(before, module_refcnt());
}

/* The skeleton has no read/write/seek: nothing pretends to work. */
TEST(no_read_write_seek)
{
	char c = 0;
	int fd;

	fd = open(DEV_PATH, O_RDWR);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, read(fd, &c, 1));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, write(fd, &c, 1));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, lseek(fd, 0, SEEK_SET));
	EXPECT_EQ(ESPIPE, errno);
	close(fd);
}

TEST(unload_refused_while_open)
{
	const char *ko = getenv("VHOST_IOMMU_KO");
	int fd, ret;

	if (!ko)
		SKIP(return, "VHOST_IOMMU_KO not set: cannot reload the module");
	if (geteuid())
		SKIP(return, "needs root to unload the module");

	fd = open(DEV_PATH, O_RDWR);
	ASSERT_LE(0, fd);
	ret = unload_module();
	EXPECT_EQ(-1, ret);
	EXPECT_EQ(EWOULDBLOCK, errno);
	/* Still there, still open. */
	EXPECT_TRUE(wait_node(true));
	EXPECT_LE(0, fcntl(fd, F_GETFD));
	ASSERT_EQ(0, close(fd));

	/* Once the last fd is closed, unload succeeds and the node goes. */
	ASSERT_EQ(0, unload_module());
	EXPECT_TRUE(wait_node(false));
	EXPECT_EQ(-1, module_refcnt());

	/* Load it again for whatever runs next. */
	ASSERT_EQ(0, load_module(ko));
	ASSERT_TRUE(wait_node(true));
	fd = open(DEV_PATH, O_RDWR);
	ASSERT_LE(0, fd);
	close(fd);
}

TEST(unload_reload_cycles)
{
	const char *ko = getenv("VHOST_IOMMU_KO");
	int i, fd;

	if (!ko)
		SKIP(return, "VHOST_IOMMU_KO not set: cannot reload the module");
	if (geteuid())
		SKIP(return, "needs root to unload the module");

	for (i = 0; i < 5; i++) {
		fd = open(DEV_PATH, O_RDWR);
		ASSERT_LE(0, fd);
		ASSERT_EQ(0, close(fd));
		ASSERT_EQ(0, unload_module());
		ASSERT_TRUE(wait_node(false));
		ASSERT_EQ(0, load_module(ko));
		ASSERT_TRUE(wait_node(true));
	}
}

TEST_HARNESS_MAIN
