/* The lab volume: a small file system of chaoslab's own, where disk faults
 * (a busy disk, a full disk, a deleted file still held open) happen instead
 * of on the host's file systems.
 *
 * Two backends:
 *   loop   an ext4 file system (mkfs.ext4 from e2fsprogs) in a sparse image
 *          file DIR/NAME.img, attached to a free loop device
 *          (LOOP_CTL_GET_FREE, then LOOP_CONFIGURE, or LOOP_SET_FD +
 *          LOOP_SET_STATUS64 on kernels before 5.8) and mounted at DIR/NAME
 *          with mount(2), options nosuid,nodev,noexec,discard. The loop device
 *          has autoclear set, so it detaches when its last user goes; with
 *          discard, space freed inside the volume is handed back to the host
 *          file system (holes punched in the image).
 *   tmpfs  a tmpfs of the requested size mounted at DIR/NAME, for machines
 *          without loop devices (no /dev/loop-control).
 * `auto` picks loop when loop devices and mkfs.ext4 are there, else tmpfs.
 *
 * Journaled: lab_volume_create() writes what it is about to make into an undo
 * object (image path, loop device, mount point) and calls the caller's save
 * callback BEFORE each step, so lab_volume_teardown() can undo a volume from
 * the last saved undo data alone, after a crash at any point. Teardown proves
 * ownership before each undo: it unmounts only a mount at the journaled mount
 * point whose source is the journaled loop device backed by the journaled
 * image (or, for tmpfs, carries the journaled source tag); it detaches a loop
 * device only while /sys/block/loopN/loop/backing_file names our image; it
 * removes the image only when it is the file we created (inode, or size when
 * the inode had not been journaled yet). It never touches a file system it
 * did not create.
 *
 * Undo layout, the object under the "volume" key of a step's undo data:
 *   {"backend": "loop"|"tmpfs", "dir": DIR, "made_dir": bool,
 *    "mountpoint": DIR/NAME, "size_mib": N,
 *    loop:  "image": DIR/NAME.img, "image_dev": N, "image_ino": N,
 *           "loop": "/dev/loopN",
 *    tmpfs: "source": "chaoslab-NAME",
 *    once mounted: "dev": "MAJ:MIN" (st_dev of the volume's root)} */
#ifndef CHAOSLAB_LAB_VOLUME_H
#define CHAOSLAB_LAB_VOLUME_H

#include <cjson/cJSON.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "core/error.h"

#define LAB_VOLUME_MIN_MIB 16
#define LAB_VOLUME_MAX_MIB 16384

enum lab_volume_backend {
	LAB_VOLUME_AUTO = 0,
	LAB_VOLUME_LOOP,
	LAB_VOLUME_TMPFS,
};

/* A volume as its undo data describes it. */
struct lab_volume {
	enum lab_volume_backend backend; /* LOOP or TMPFS */
	char mountpoint[PATH_MAX];
	char image[PATH_MAX]; /* loop: the image file; "" for tmpfs */
	char loop[32];	      /* loop: "/dev/loopN"; "" until chosen */
	char source[64];      /* tmpfs: the mount's source tag */
	dev_t dev;	      /* st_dev of the mounted root; 0 = not mounted yet */
	unsigned long long size_mib;
};

/* What lab_volume_create() is asked for. */
struct lab_volume_opts {
	const char *dir;	     /* directory holding image and mount point
				   * (STATE/lab); created if missing */
	const char *name;	     /* [A-Za-z0-9_-], at most 32 characters: the
				   * mount point's name and the ext4 label */
	unsigned long long size_mib; /* LAB_VOLUME_MIN_MIB..LAB_VOLUME_MAX_MIB */
	enum lab_volume_backend backend;
};

/* Journals the caller's undo data (fsync'd); 0 or -1 with err. */
typedef int (*lab_volume_save_fn)(void *arg, struct cl_error *err);

/* "auto", "loop", "tmpfs" -> backend; -1 when unknown. */
int lab_volume_backend_parse(const char *text);

/* "auto", "loop" or "tmpfs". */
const char *lab_volume_backend_name(enum lab_volume_backend b);

/* 0 when backend b can be made here, else -1 with why (missing
 * /dev/loop-control, no mkfs.ext4, no ext4 or tmpfs in /proc/filesystems,
 * no CAP_SYS_ADMIN). For LAB_VOLUME_AUTO, 0 when either can be. *chosen (may
 * be NULL) gets what auto would pick. Changes nothing. */
int lab_volume_supported(enum lab_volume_backend b, enum lab_volume_backend *chosen, char *why,
			 size_t size);

/* Make a volume as opts asks, journaling into undo (an object owned by the
 * caller: the "volume" key is replaced) and calling save(arg) before each step.
 * Refuses a size that would leave less than a tenth of the host file system
 * holding opts->dir (or 512 MiB, whichever is more) free, or, for tmpfs, more
 * than a quarter of MemAvailable. Fills out on success. On failure, whatever
 * was made stays undoable by lab_volume_teardown() from undo. */
int lab_volume_create(const struct lab_volume_opts *opts, cJSON *undo, lab_volume_save_fn save,
		      void *arg, struct lab_volume *out, struct cl_error *err);

/* Undo the volume described by vundo (the "volume" object; NULL or empty =
 * nothing to do), touching only what is provably ours: unmount (lazily when
 * still busy), detach the loop device, remove the image and the mount point
 * directory. Idempotent. report (may be NULL) gets what was done, "" for
 * nothing. Returns 0, or -1 with err when something of ours could not be
 * undone (it is then left as it is, and a later call may finish). The caller
 * stops its processes on the volume first. */
int lab_volume_teardown(const cJSON *vundo, char *report, size_t report_size, struct cl_error *err);

/* The volume object of a step's undo data: its own ("volume"), or the one of
 * the step it writes on ("on_volume"); NULL when neither. */
const cJSON *lab_volume_undo_of(const cJSON *step_undo);

/* Read a "volume" undo object into v. 0, or -1 when it names no mount point. */
int lab_volume_from_undo(const cJSON *vundo, struct lab_volume *v);

/* True when v is mounted now: the top mount at v->mountpoint is ours (loop:
 * source v->loop backed by v->image; tmpfs: source v->source) and its root has
 * st_dev v->dev (when v->dev is known). */
bool lab_volume_mounted(const struct lab_volume *v);

/* Find the volume an earlier step named name made in dir (STATE/lab): the
 * mount at DIR/NAME must be ours (a loop device backed by DIR/NAME.img, or a
 * tmpfs with the source tag chaoslab-NAME). 0 with out filled (size_mib 0),
 * or -1 with err when there is none. For a step writing on another step's
 * volume: the owner step alone tears it down. */
int lab_volume_find(const char *dir, const char *name, struct lab_volume *out,
		    struct cl_error *err);

/* v in the undo layout above (no "dir" or "made_dir": nothing to tear down
 * from it, only enough to find the volume again). NULL when out of memory. */
cJSON *lab_volume_to_json(const struct lab_volume *v);

/* Resolve path (relative to the volume's root, or absolute) to an absolute
 * path of a file inside the mounted volume v, into out. Refuses, with the
 * message "fill target 'PATH' outside the lab volume 'MOUNTPOINT'", a path
 * with a ".." component or one that is not under the mount point, and a
 * parent directory that resolves (symlinks followed) to somewhere off the
 * volume. With make_dirs, missing parent directories are created (0755)
 * inside the volume. The final component is not resolved: open it with
 * O_NOFOLLOW. */
int lab_volume_resolve(const struct lab_volume *v, const char *path, bool make_dirs, char *out,
		       size_t size, struct cl_error *err);

/* Check path lexically against a mount point that is not made yet: 0 when a
 * relative path has no ".." component and an absolute one lies under
 * mountpoint; else -1 with the same message as lab_volume_resolve(). */
int lab_volume_path_check(const char *mountpoint, const char *path, struct cl_error *err);

/* The name diskstats uses for v's block device ("loop3"), into buf; -1 when v
 * has none (tmpfs, or no loop device yet). */
int lab_volume_disk_name(const struct lab_volume *v, char *buf, size_t size);

#endif
