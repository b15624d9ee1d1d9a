/* Temporary files of an atomic write (write NAME.tmp.PID, fsync, rename)
 * that a crash cut short.
 *
 * Every writer in chaoslab names its temporary file after the final name
 * and its own pid: PATH.tmp.PID (lab files, certificates) or
 * DIR/.NAME.tmp.PID (results). A kill between the write and the rename
 * leaves that file behind; once PID is no live process it is garbage, and
 * these helpers remove it. A live PID's file may be a write in progress and
 * is never touched. */
#ifndef CHAOSLAB_TMPFILE_H
#define CHAOSLAB_TMPFILE_H

#include <stdbool.h>
#include <sys/types.h>

/* The PID of a NAME.tmp.PID file name, or 0 when name is not one. */
pid_t tmpfile_writer(const char *name);

/* True when no live process has pid: gone (ESRCH) or a zombie, which
 * writes nothing more. */
bool tmpfile_writer_dead(pid_t pid);

/* Remove PATH.tmp.PID files (the temporary names of writes of path) whose
 * writer is dead. Returns how many were removed. */
int tmpfile_sweep_path(const char *path);

/* Remove every regular file of dir whose name starts with prefix (may be
 * "") and is NAME.tmp.PID with a dead writer. Returns how many. */
int tmpfile_sweep_dir(const char *dir, const char *prefix);

#endif
