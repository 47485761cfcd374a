// SPDX-License-Identifier: GPL-2.0-only
/*
 * kselftest suite "packaging": the module as an installed system sees it.
 *
 * The VM runner stages the module with `make install DESTDIR=<initramfs>`
 * (so /lib/modules/<release>/extra/vhost_iommu.ko with depmod's indexes,
 * modules.devname among them) and puts the host's kmod at /sbin, the
 * kernel's modprobe path. Then:
 *
 * - the misc minor is dynamic (no fixed one is ours: one from the
 *   local-use range may be another driver's), and the node is the one the
 *   misc core registered;
 * - only vhost_iommu.ko is installed (never the KUnit module), with the
 *   modinfo fields packagers and modprobe rely on: version (equal to what
 *   the loaded module reports; its srcversion is not, the installed one
 *   being built without the test hooks), license, and no alias at all
 *   (neither char-major-10-<minor> nor devname:, which need a fixed
 *   minor); modules-load.d/vhost-iommu.conf names the module, so a host
 *   loads it at boot;
 * - neither modules.devname nor `kmod static-nodes` (what
 *   kmod-static-nodes.service runs at boot) makes a node for it: a node
 *   with a number before the module is loaded could be another driver's;
 * - with the module unloaded, `modprobe vhost-iommu` (what
 *   systemd-modules-load does with the modules-load.d file) loads the
 *   installed module and its node appears and opens.
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
/* The local-use minor an earlier version of the module took. */
#define OLD_FIXED_MINOR	248u
#define MODULES_LOAD	"/usr/lib/modules-load.d/vhost-iommu.conf"
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

/* The numbers the misc core gave the device, from sysfs. */
static int misc_numbers(unsigned int *major, unsigned int *minor)
{
	char buf[32];

	if (read_str("/sys/class/misc/" DEV_NAME "/dev", buf, sizeof(buf)) ||
	    sscanf(buf, "%u:%u", major, minor) != 2)
		return -1;
	return 0;
}

TEST(minor_is_dynamic)
{
	unsigned int major, minor;
	struct stat st;

	ASSERT_EQ(0, misc_numbers(&major, &minor));
	EXPECT_EQ(MISC_MAJOR, major);
	EXPECT_NE(OLD_FIXED_MINOR, minor);
	/* The node is the registered device's, made when it registered. */
	ASSERT_EQ(0, stat(DEV_PATH, &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(makedev(major, minor), st.st_rdev);
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

	/* No boot-time node: depmod has no numbers for one. */
	EXPECT_NE(0, devname_entry(&type, &major, &minor)) {
		TH_LOG("modules.devname has %c%u:%u for %s", type, major,
		       minor, DEV_NAME);
	}
	/* What loads it at boot instead. */
	ASSERT_EQ(0, read_str(MODULES_LOAD, path, sizeof(path)));
	EXPECT_TRUE(has_line(path, MOD_NAME));
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
	/*
	 * Not the loaded build: the runner loads the test build (with the
	 * test hooks), `make install` installs the plain one.
	 */
	ASSERT_EQ(0, run(MODINFO " -F srcversion " MOD_NAME, out, sizeof(out)));
	EXPECT_NE('\0', out[0]);
	ASSERT_EQ(0, read_str(MOD_SYSFS "/srcversion", loaded, sizeof(loaded)));
	EXPECT_STRNE(loaded, out);

	ASSERT_EQ(0, run(MODINFO " -F license " MOD_NAME, out, sizeof(out)));
	EXPECT_STREQ("GPL", out);

	ASSERT_EQ(0, run(MODINFO " -F alias " MOD_NAME, out, sizeof(out)));
	EXPECT_STREQ("", out);
}

TEST(static_nodes_lists_no_node)
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
		/* c! /dev/<node> 0600 - - - <major>:<minor> */
		if (sscanf(line, "%3s %63s %*s %*s %*s %*s %63s", kind, node,
			   last) != 3)
			continue;
		if (!strcmp(node, DEV_PATH))
			found = true;
	}
	EXPECT_FALSE(found) {
		TH_LOG("kmod static-nodes wrote: %s", out);
	}
}

FIXTURE(autoload) {
	const char *ko;
	int fd;
};

FIXTURE_SETUP(autoload)
{
	self->ko = getenv("VHOST_IOMMU_KO");
	self->fd = -1;
}

/* Back to how the runner left it: loaded from VHOST_IOMMU_KO. */
FIXTURE_TEARDOWN(autoload)
{
	if (!self->ko || geteuid() || !installed())
		return;
	if (self->fd >= 0)
		close(self->fd);
	if (module_loaded())
		EXPECT_EQ(0, unload_module());
	EXPECT_TRUE(wait_node(false));
	EXPECT_EQ(0, load_module(self->ko));
	EXPECT_TRUE(wait_node(true));
}

TEST_F_TIMEOUT(autoload, modprobe_by_name_loads_module, 120)
{
	char modprobe[256], cmd[320], out[OUT_MAX], state[32];
	unsigned int major, minor;
	struct stat st;

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

	/* What a host's boot does for modules-load.d. */
	snprintf(cmd, sizeof(cmd), "%s %s 2>&1", modprobe, DEV_NAME);
	ASSERT_EQ(0, run(cmd, out, sizeof(out))) {
		TH_LOG("%s: %s", cmd, out);
	}
	ASSERT_TRUE(module_loaded());
	ASSERT_EQ(0, read_str(MOD_SYSFS "/initstate", state, sizeof(state)));
	EXPECT_STREQ("live", state);
	ASSERT_TRUE(wait_node(true));

	self->fd = open(DEV_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd) {
		TH_LOG("open: %s", strerror(errno));
	}
	ASSERT_EQ(0, read_str(MOD_SYSFS "/refcnt", state, sizeof(state)));
	EXPECT_EQ(1, atoi(state));

	/* The file is a device instance of the module just loaded. */
	ASSERT_EQ(0, misc_numbers(&major, &minor));
	ASSERT_EQ(0, fstat(self->fd, &st));
	EXPECT_EQ(makedev(major, minor), st.st_rdev);
	EXPECT_EQ(-1, lseek(self->fd, 0, SEEK_SET));
	EXPECT_EQ(ESPIPE, errno);
	EXPECT_EQ(0, close(self->fd));
	self->fd = -1;
	ASSERT_EQ(0, read_str(MOD_SYSFS "/refcnt", state, sizeof(state)));
	EXPECT_EQ(0, atoi(state));
}

TEST_HARNESS_MAIN
