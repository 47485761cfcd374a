// SPDX-License-Identifier: GPL-2.0-only
/*
 * kselftest suite "packaging": the module as an installed system sees it.
 *
 * The VM runner stages the module with `make install DESTDIR=<initramfs>`
 * (so /lib/modules/<release>/extra/vhost_iommu.ko with depmod's indexes,
 * modules.devname among them) and puts the host's kmod at /sbin, the
 * kernel's modprobe path. Then:
 *
 * - the misc minor is the fixed one (10:248), so a node can exist before
 *   the module is loaded;
 * - only vhost_iommu.ko is installed (never the KUnit module), with the
 *   modinfo fields packagers and modprobe rely on: version (equal to what
 *   the loaded module reports), license, the char-major-10-248 and
 *   devname:vhost-iommu aliases;
 * - `kmod static-nodes`, which kmod-static-nodes.service runs at boot
 *   for systemd-tmpfiles, lists /dev/vhost-iommu from modules.devname;
 * - with the module unloaded and the node created from modules.devname,
 *   the first open() loads the module (request_module("char-major-10-248")
 *   -> modprobe) and succeeds.
 *
 * The module is left loaded from VHOST_IOMMU_KO, with a node devtmpfs
 * owns, as the suites that run next expect.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "kselftest_harness.h"

#define DEV_PATH	"/dev/vhost-iommu"
#define DEV_NAME	"vhost-iommu"
#define MOD_NAME	"vhost_iommu"
#define MOD_SYSFS	"/sys/module/" MOD_NAME
#define MISC_MAJOR	10u
#define FIXED_MINOR	248u
#define KMOD		"/sbin/kmod"
#define MODINFO		"/sbin/modinfo"
#define OUT_MAX		8192

/* Reads a small file into buf, without the trailing newline. */
static int read_str(const char *path, char *buf, size_t size)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	return 0;
}

/* Runs a shell command; its standard output, trimmed, lands in out. */
static int run(const char *cmd, char *out, size_t size)
{
	size_t len = 0, n;
	FILE *f;

	f = popen(cmd, "r");
	if (!f)
		return -1;
	while (len < size - 1 &&
	       (n = fread(out + len, 1, size - 1 - len, f)) > 0)
		len += n;
	out[len] = '\0';
	while (len > 0 && out[len - 1] == '\n')
		out[--len] = '\0';
	return pclose(f);
}

/* True if text has a line equal to line. */
static bool has_line(const char *text, const char *line)
{
	size_t len = strlen(line);
	const char *p = text;

	while ((p = strstr(p, line))) {
		if ((p == text || p[-1] == '\n') &&
		    (p[len] == '\n' || p[len] == '\0'))
			return true;
		p += len;
	}
	return false;
}

static void modules_dir(char *buf, size_t size)
{
	struct utsname u;

	uname(&u);
	snprintf(buf, size, "/lib/modules/%s", u.release);
}

/* The modules.devname entry of the module: its node's type and numbers. */
static int devname_entry(char *type, unsigned int *major, unsigned int *minor)
{
	char path[300], line[256], mod[64], name[64];
	int ret = -1;
	FILE *f;

	modules_dir(path, sizeof(path));
	strcat(path, "/modules.devname");
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%63s %63s %c%u:%u", mod, name, type, major,
			   minor) != 5)
			continue;
		if (!strcmp(mod, MOD_NAME) && !strcmp(name, DEV_NAME)) {
			ret = 0;
			break;
		}
	}
	fclose(f);
	return ret;
}

static bool installed(void)
{
	char path[300];

	modules_dir(path, sizeof(path));
	strcat(path, "/modules.dep");
	return access(path, R_OK) == 0;
}

#define NOT_INSTALLED	"module not installed under /lib/modules (the VM runner installs it for this suite)"

static bool module_loaded(void)
{
	return access(MOD_SYSFS "/initstate", F_OK) == 0;
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

/* The last file of a previous test may still be on its way out. */
static int unload_module(void)
{
	int i;

	for (i = 0; i < 200; i++) {
		if (!syscall(SYS_delete_module, MOD_NAME, O_NONBLOCK))
			return 0;
		if (errno != EAGAIN)
			return -1;
		usleep(10000);
	}
	return -1;
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

TEST(minor_is_fixed)
{
	char buf[32];

	ASSERT_EQ(0, read_str("/sys/class/misc/" DEV_NAME "/dev", buf,
			      sizeof(buf)));
	EXPECT_STREQ("10:248", buf);
}

TEST(only_the_device_module_is_installed)
{
	char dir[300], path[400];
	unsigned int major, minor;
	char type;

	if (!installed())
		SKIP(return, NOT_INSTALLED);
	modules_dir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/extra/%s.ko", dir, MOD_NAME);
	EXPECT_EQ(0, access(path, R_OK));
	snprintf(path, sizeof(path), "%s/extra/%s_kunit.ko", dir, MOD_NAME);
	EXPECT_EQ(-1, access(path, F_OK));

	/* depmod turned the two aliases into the boot-time node. */
	ASSERT_EQ(0, devname_entry(&type, &major, &minor));
	EXPECT_EQ('c', type);
	EXPECT_EQ(MISC_MAJOR, major);
	EXPECT_EQ(FIXED_MINOR, minor);
}

TEST(modinfo_fields)
{
	char out[OUT_MAX], loaded[64];

	if (!installed())
		SKIP(return, NOT_INSTALLED);
	if (access(MODINFO, X_OK))
		SKIP(return, "no " MODINFO);

	/* The installed module is this build, and says which version. */
	ASSERT_EQ(0, run(MODINFO " -F version " MOD_NAME, out, sizeof(out)));
	ASSERT_EQ(0, read_str(MOD_SYSFS "/version", loaded, sizeof(loaded)));
	EXPECT_STREQ(loaded, out);
	EXPECT_NE('\0', out[0]);
	ASSERT_EQ(0, run(MODINFO " -F srcversion " MOD_NAME, out, sizeof(out)));
	ASSERT_EQ(0, read_str(MOD_SYSFS "/srcversion", loaded, sizeof(loaded)));
	EXPECT_STREQ(loaded, out);

	ASSERT_EQ(0, run(MODINFO " -F license " MOD_NAME, out, sizeof(out)));
	EXPECT_STREQ("GPL", out);

	ASSERT_EQ(0, run(MODINFO " -F alias " MOD_NAME, out, sizeof(out)));
	EXPECT_TRUE(has_line(out, "char-major-10-248"));
	EXPECT_TRUE(has_line(out, "devname:" DEV_NAME));
}

TEST(static_nodes_lists_the_node)
{
	char out[OUT_MAX], lines[OUT_MAX], kind[4], node[64], last[64];
	char cmd[128];
	char path[] = "/tmp/static-nodes.XXXXXX";
	bool found = false;
	char *line, *save;
	int fd, ret;

	if (!installed())
		SKIP(return, NOT_INSTALLED);
	if (access(KMOD, X_OK))
		SKIP(return, "no " KMOD);

	/*
	 * What kmod-static-nodes.service writes at boot for systemd-tmpfiles.
	 * Into a file: kmod's default output is /dev/stdout, which the VM's
	 * devtmpfs does not have (kmod would create it as a file).
	 */
	fd = mkstemp(path);
	ASSERT_LE(0, fd);
	close(fd);
	snprintf(cmd, sizeof(cmd),
		 KMOD " static-nodes --format=tmpfiles --output=%s", path);
	ret = run(cmd, out, sizeof(out));
	if (!ret)
		ret = read_str(path, out, sizeof(out));
	unlink(path);
	ASSERT_EQ(0, ret);
	memcpy(lines, out, sizeof(out));
	for (line = strtok_r(lines, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		/* c! /dev/vhost-iommu 0600 - - - 10:248, with or without the "!" */
		if (sscanf(line, "%3s %63s %*s %*s %*s %*s %63s", kind, node,
			   last) != 3)
			continue;
		if (kind[0] == 'c' && !strcmp(node, DEV_PATH)) {
			found = true;
			EXPECT_STREQ("10:248", last);
		}
	}
	EXPECT_TRUE(found) {
		TH_LOG("kmod static-nodes wrote: %s", out);
	}
}

FIXTURE(autoload) {
	const char *ko;
	bool made_node;
	int fd;
};

FIXTURE_SETUP(autoload)
{
	self->ko = getenv("VHOST_IOMMU_KO");
	self->made_node = false;
	self->fd = -1;
}

/* Back to how the runner left it: loaded from VHOST_IOMMU_KO. */
FIXTURE_TEARDOWN(autoload)
{
	if (!self->ko || geteuid() || !installed())
		return;
	if (self->fd >= 0)
		close(self->fd);
	/* Ours, not devtmpfs's: unloading would not remove it. */
	if (self->made_node)
		unlink(DEV_PATH);
	if (module_loaded())
		EXPECT_EQ(0, unload_module());
	EXPECT_TRUE(wait_node(false));
	EXPECT_EQ(0, load_module(self->ko));
	EXPECT_TRUE(wait_node(true));
	/* The node is devtmpfs's again: it goes with the module. */
	EXPECT_EQ(0, unload_module());
	EXPECT_TRUE(wait_node(false));
	EXPECT_EQ(0, load_module(self->ko));
	EXPECT_TRUE(wait_node(true));
}

TEST_F_TIMEOUT(autoload, first_open_loads_module, 120)
{
	unsigned int major, minor;
	char modprobe[256], state[32];
	struct stat st;
	char type;

	if (!installed())
		SKIP(return, NOT_INSTALLED);
	if (!self->ko)
		SKIP(return, "VHOST_IOMMU_KO not set: cannot reload the module");
	if (geteuid())
		SKIP(return, "needs root to unload the module");
	ASSERT_EQ(0, read_str("/proc/sys/kernel/modprobe", modprobe,
			      sizeof(modprobe)));
	if (access(modprobe, X_OK))
		SKIP(return, "no modprobe at %s", modprobe);

	ASSERT_EQ(0, unload_module());
	ASSERT_FALSE(module_loaded());
	ASSERT_TRUE(wait_node(false));

	/* The node as systemd-tmpfiles makes it at boot, from depmod. */
	ASSERT_EQ(0, devname_entry(&type, &major, &minor));
	ASSERT_EQ('c', type);
	ASSERT_EQ(0, mknod(DEV_PATH, S_IFCHR | 0600, makedev(major, minor)));
	self->made_node = true;

	self->fd = open(DEV_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd) {
		TH_LOG("open: %s (modprobe %s)", strerror(errno), modprobe);
	}
	ASSERT_TRUE(module_loaded());
	ASSERT_EQ(0, read_str(MOD_SYSFS "/initstate", state, sizeof(state)));
	EXPECT_STREQ("live", state);
	ASSERT_EQ(0, read_str(MOD_SYSFS "/refcnt", state, sizeof(state)));
	EXPECT_EQ(1, atoi(state));

	/* The file is a device instance of the module just loaded. */
	ASSERT_EQ(0, fstat(self->fd, &st));
	EXPECT_EQ(makedev(MISC_MAJOR, FIXED_MINOR), st.st_rdev);
	EXPECT_EQ(-1, lseek(self->fd, 0, SEEK_SET));
	EXPECT_EQ(ESPIPE, errno);
	EXPECT_EQ(0, close(self->fd));
	self->fd = -1;
	ASSERT_EQ(0, read_str(MOD_SYSFS "/refcnt", state, sizeof(state)));
	EXPECT_EQ(0, atoi(state));
}

TEST_HARNESS_MAIN
