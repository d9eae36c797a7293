/* The machine description (see machine.h). */
#include "machine.h"

#include <cbor.h>
#include <dirent.h>
#include <lmdb.h>
#include <msgpack.h>
#include <stdio.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "rattan.h"

static struct machine {
  char cpu[128];
  long nproc;
  char kernel[600];
  char fs[32];
  unsigned long fs_magic;
  char dir[256];
  char write_cache[512]; /* "vda: write back; sda: write through" */
  char libs[256];
} mach;

/* Filesystem magic numbers (linux/magic.h), for the names people know. */
static const struct {
  unsigned long magic;
  const char *name;
} fs_names[] = {
    {0xEF53, "ext4"},     {0x01021994, "tmpfs"}, {0x858458f6, "ramfs"},
    {0x58465342, "xfs"},  {0x9123683E, "btrfs"}, {0x794c7630, "overlay"},
    {0x2FC12FC1, "zfs"},  {0x6969, "nfs"},       {0x65735546, "fuse"},
    {0xF2F52010, "f2fs"},
};

static void read_cpu(void) {
  snprintf(mach.cpu, sizeof mach.cpu, "unknown");
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (!f) return;
  char line[512];
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "model name", 10)) continue;
    char *v = strchr(line, ':');
    if (!v) break;
    v += strspn(v + 1, " \t") + 1;
    v[strcspn(v, "\n")] = '\0';
    snprintf(mach.cpu, sizeof mach.cpu, "%s", v);
    break;
  }
  fclose(f);
}

/* Every block device's queue/write_cache ("write back" means a flush must
 * reach the device's cache and be flushed from it). */
static void read_write_cache(void) {
  DIR *d = opendir("/sys/block");
  size_t len = 0;
  mach.write_cache[0] = '\0';
  if (!d) return;
  struct dirent *de;
  while ((de = readdir(d))) {
    if (de->d_name[0] == '.' || !strncmp(de->d_name, "loop", 4) ||
        !strncmp(de->d_name, "ram", 3))
      continue;
    char path[512], v[64] = "";
    snprintf(path, sizeof path, "/sys/block/%s/queue/write_cache", de->d_name);
    FILE *f = fopen(path, "r");
    if (!f) continue;
    if (fgets(v, sizeof v, f)) v[strcspn(v, "\n")] = '\0';
    fclose(f);
    int n = snprintf(mach.write_cache + len, sizeof mach.write_cache - len,
                     "%s%s: %s", len ? "; " : "", de->d_name, v);
    if (n < 0 || (size_t)n >= sizeof mach.write_cache - len) break;
    len += (size_t)n;
  }
  closedir(d);
  if (!len) snprintf(mach.write_cache, sizeof mach.write_cache, "unknown");
}

void machine_probe(const char *dir) {
  read_cpu();
  mach.nproc = sysconf(_SC_NPROCESSORS_ONLN);
  struct utsname u;
  if (!uname(&u))
    snprintf(mach.kernel, sizeof mach.kernel, "%s %s %s", u.sysname, u.release,
             u.machine);
  snprintf(mach.dir, sizeof mach.dir, "%s", dir);
  struct statfs sf;
  snprintf(mach.fs, sizeof mach.fs, "unknown");
  if (!statfs(dir, &sf)) {
    mach.fs_magic = (unsigned long)sf.f_type;
    snprintf(mach.fs, sizeof mach.fs, "0x%lx", mach.fs_magic);
    for (size_t i = 0; i < sizeof fs_names / sizeof *fs_names; i++)
      if (fs_names[i].magic == mach.fs_magic)
        snprintf(mach.fs, sizeof mach.fs, "%s", fs_names[i].name);
  }
  read_write_cache();
  /* The versions the bench was compiled against (the headers'). */
  snprintf(mach.libs, sizeof mach.libs,
           "rattan %s, liblmdb %d.%d.%d, msgpack-c %s, libcbor %d.%d.%d, "
           "jansson %s",
           RATTAN_VERSION_STRING, MDB_VERSION_MAJOR, MDB_VERSION_MINOR,
           MDB_VERSION_PATCH, MSGPACK_VERSION, CBOR_MAJOR_VERSION,
           CBOR_MINOR_VERSION, CBOR_PATCH_VERSION, JANSSON_VERSION);
}

int machine_on_tmpfs(void) {
  return mach.fs_magic == 0x01021994 || mach.fs_magic == 0x858458f6;
}

const char *machine_fs(void) {
  return mach.fs;
}

void machine_print(void) {
  printf("machine: %s, %ld cores, %s\n", mach.cpu, mach.nproc, mach.kernel);
  printf("bench dir: %s (%s); write_cache: %s\n", mach.dir, mach.fs,
         mach.write_cache);
  printf("libraries: %s\n", mach.libs);
}

json_t *machine_json(void) {
  return json_pack("{s:s,s:I,s:s,s:s,s:s,s:s,s:s}", "cpu", mach.cpu, "nproc",
                   (json_int_t)mach.nproc, "kernel", mach.kernel, "bench_dir",
                   mach.dir, "filesystem", mach.fs, "write_cache",
                   mach.write_cache, "libraries", mach.libs);
}
