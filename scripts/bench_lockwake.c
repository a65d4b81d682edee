/* bench_lockwake: how fast a waiter's event loop learns that a lock holder
 * has ended, for the ways it can be told without blocking that loop (the
 * wait engine's choice).
 *
 * Usage: bench_lockwake --trials N --close-trials M --dir DIR
 *
 * Each trial forks a fresh holder (the stand-in for a step's wrapper), which
 * takes what its mechanism needs, says "ready" on a pipe and blocks reading
 * "go". The waiter (this process) arms its mechanism, makes sure any helper
 * it started is asleep in its blocking call, sends "go" and sleeps in
 * poll(2). The holder sleeps HOLD_US more (so that the waiter is surely
 * asleep), stores CLOCK_MONOTONIC in shared memory (t0) and ends; the waiter
 * reads CLOCK_MONOTONIC as poll returns (t1). Latency = t1 - t0.
 *
 *   fifo        what ships: the holder opens DIR/.P.lock (a FIFO) O_RDWR and
 *               takes flock(LOCK_EX); the waiter opens it
 *               O_RDONLY|O_NONBLOCK, checks flock(LOCK_SH|LOCK_NB) fails
 *               (held), polls it; wakes on POLLHUP. As a wrapper does, the
 *               holder renames its marker DIR/m/.P.tmp to DIR/m/P just
 *               before its exit: t0 just before _exit, and fifo.mark is
 *               timed from just before that rename (the old engine's t0).
 *   flock-proc  a helper process, forked per trial, opens .P.lock and blocks
 *               in flock(LOCK_SH); once granted it writes a byte to a pipe
 *               the waiter polls. t0 just before _exit.
 *   flock-thr   the same helper as a thread (pthread, created per trial).
 *   ofd-thr     a thread blocks in fcntl(F_OFD_SETLKW, F_RDLCK) on DIR/L, of
 *               which the holder holds an OFD write lock; then the pipe byte.
 *               t0 just before _exit.
 *   inotify-dir the old engine: one inotify instance watching DIR/d
 *               (IN_CREATE|IN_MOVED_TO|IN_CLOSE_WRITE), kept across trials;
 *               the holder writes DIR/d/.P.tmp, renames it to DIR/d/P, exits;
 *               t0 just before rename(2); wakes on the IN_MOVED_TO for P.
 *   inotify-close an inotify watch (one instance kept across trials) on the
 *               inode of DIR/W, which the holder has open O_WRONLY; wakes on
 *               IN_CLOSE_WRITE as its exit closes it. t0 just before _exit.
 *   pidfd       pidfd_open(holder) polled for POLLIN (the holder is this
 *               process's child here; across containers it needs a shared
 *               PID namespace). t0 just before _exit.
 *
 * Trials run the mechanisms in a shuffled order each round. Then, M times:
 * close(2) of a fresh inotify descriptor that watched DIR/d and read one event
 * (as the old engine's waiter did before its exec), and of one that never had
 * a watch.
 *
 * Prints `key<TAB>value` lines: NAME.median, NAME.p99 (µs, nearest rank),
 * NAME.n, NAME.late (trials whose event came before the waiter slept in
 * poll: should be 0), NAME.arm.* (the time to arm the waiter: from the
 * holder's "ready" to "go", helper started and asleep included), and
 * fifo.mark.* (the FIFO's wake from the marker's rename), close.fifo.* (the waiter's close of its FIFO descriptor after the
 * hang-up), close.watch.*, close.nowatch.*. Exits 1 with a
 * line on stderr when something cannot be set up; never judges a figure.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

#define HOLD_US 300

enum mech { FIFO, FLOCK_PROC, FLOCK_THR, OFD_THR, INOTIFY_DIR, INOTIFY_CLOSE, PIDFD, NMECH };
static const char *const NAMES[NMECH] = {
    "fifo", "flock-proc", "flock-thr", "ofd-thr", "inotify-dir", "inotify-close", "pidfd",
};

/* Shared with the holder and a helper process (MAP_SHARED, set before fork). */
struct shared {
    _Atomic int64_t t0;          /* ns, the holder's last act */
    _Atomic int64_t t_mark;      /* ns, fifo: before the marker's rename */
    _Atomic int helper_calling;  /* the helper is about to block */
    _Atomic int helper_tid;
};
static struct shared *sh;

static char lock_path[PATH_MAX], ofd_path[PATH_MAX], watch_path[PATH_MAX];
static char marker_tmp[PATH_MAX + 8], marker_path[PATH_MAX + 8], dir_path[PATH_MAX];
static char fifo_mark_tmp[PATH_MAX + 8], fifo_mark_path[PATH_MAX + 8], fifo_mark_dir[PATH_MAX];
static int dir_ino = -1, close_ino = -1; /* the inotify instances kept across trials */

static void die(const char *fmt, ...) {
    va_list ap;
    int e = errno;
    fputs("bench_lockwake: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, ": %s\n", strerror(e));
    exit(1);
}

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_us(long us) {
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
}

static void xwrite1(int fd) {
    char c = 1;
    if (write(fd, &c, 1) != 1) die("write");
}

static void xread1(int fd) {
    char c;
    ssize_t n;
    while ((n = read(fd, &c, 1)) < 0 && errno == EINTR) {}
    if (n != 1) die("read");
}

static void ofd_lock(int fd, short type, int cmd) {
    struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
    if (fcntl(fd, cmd, &fl) < 0) die("fcntl(F_OFD_SETLK%s)", cmd == F_OFD_SETLKW ? "W" : "");
}

/* ---------------------------------------------------------------- holder */

/* The holder: takes what mechanism m needs, says ready, waits for go, sleeps
 * HOLD_US, records t0 and ends. Never returns. */
static void holder(enum mech m, int ready_w, int go_r) {
    if (dir_ino >= 0) close(dir_ino);
    if (close_ino >= 0) close(close_ino);
    int fd = -1;
    switch (m) {
    case FIFO:
        fd = open(fifo_mark_tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || write(fd, "0\n", 2) != 2 || close(fd) < 0) die("holder: write %s", fifo_mark_tmp);
        /* fall through */
    case FLOCK_PROC:
    case FLOCK_THR:
        fd = open(lock_path, O_RDWR | O_CLOEXEC);
        if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0) die("holder: lock %s", lock_path);
        break;
    case OFD_THR:
        fd = open(ofd_path, O_RDWR | O_CLOEXEC);
        if (fd < 0) die("holder: open %s", ofd_path);
        ofd_lock(fd, F_WRLCK, F_OFD_SETLK);
        break;
    case INOTIFY_DIR:
        fd = open(marker_tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || write(fd, "0\n", 2) != 2 || close(fd) < 0) die("holder: write %s", marker_tmp);
        break;
    case INOTIFY_CLOSE:
        fd = open(watch_path, O_WRONLY | O_CLOEXEC);
        if (fd < 0) die("holder: open %s", watch_path);
        break;
    case PIDFD:
    case NMECH:
        break;
    }
    xwrite1(ready_w);
    xread1(go_r);
    sleep_us(HOLD_US);
    if (m == INOTIFY_DIR) {
        atomic_store(&sh->t0, now_ns());
        if (rename(marker_tmp, marker_path) < 0) die("holder: rename");
    } else if (m == FIFO) { /* a wrapper's last acts: its marker, then its exit */
        atomic_store(&sh->t_mark, now_ns());
        if (rename(fifo_mark_tmp, fifo_mark_path) < 0) die("holder: rename");
        atomic_store(&sh->t0, now_ns());
    } else {
        atomic_store(&sh->t0, now_ns());
    }
    _exit(0);
}

/* ---------------------------------------------------------------- helpers */

struct helper_arg {
    enum mech m;
    int notify_w;
};

/* Blocks until the holder's lock is granted, then writes a byte. */
static void helper_wait(enum mech m, int notify_w) {
    int fd;
    if (m == OFD_THR) {
        fd = open(ofd_path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) die("helper: open %s", ofd_path);
    } else {
        fd = open(lock_path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0) die("helper: open %s", lock_path);
    }
    atomic_store(&sh->helper_tid, (int)syscall(SYS_gettid));
    atomic_store(&sh->helper_calling, 1);
    if (m == OFD_THR) {
        ofd_lock(fd, F_RDLCK, F_OFD_SETLKW);
    } else {
        while (flock(fd, LOCK_SH) < 0) {
            if (errno != EINTR) die("helper: flock");
        }
    }
    xwrite1(notify_w);
    close(fd);
}

static void *helper_thread(void *p) {
    struct helper_arg *a = p;
    helper_wait(a->m, a->notify_w);
    return NULL;
}

/* Waits until task tid (of process pid) is asleep ('S') after it said it is
 * about to make its blocking call. */
static void wait_asleep(pid_t pid, int tid) {
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/task/%d/stat", pid, tid);
    for (int i = 0; i < 1000000; i++) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) die("open %s", path);
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n <= 0) die("read %s", path);
        buf[n] = 0;
        char *p = strrchr(buf, ')');
        if (p && p[1] == ' ' && p[2] == 'S') return;
        sched_yield();
    }
    errno = ETIMEDOUT;
    die("helper %d never went to sleep", tid);
}

/* ---------------------------------------------------------------- a trial */

/* What one trial measured, in ns. */
struct result {
    int64_t wake;  /* t0 to the waiter's wake */
    int64_t arm;   /* the holder's "ready" to the waiter armed (helper started
                      and asleep, or fd opened) */
    int64_t mark;  /* fifo: the marker's rename to the wake */
    int64_t close; /* fifo: close(2) of the waiter's pipe after its wake */
    int late;      /* the event came before the waiter slept in poll */
};

/* One trial of mechanism m. */
static struct result trial(enum mech m) {
    struct result res = {0};
    int ready[2], go[2], notify[2] = {-1, -1};
    if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0) die("pipe2");
    atomic_store(&sh->t0, 0);
    atomic_store(&sh->helper_calling, 0);
    if (m == INOTIFY_DIR) unlink(marker_path);

    pid_t h = fork();
    if (h < 0) die("fork");
    if (h == 0) {
        close(ready[0]);
        close(go[1]);
        holder(m, ready[1], go[0]);
    }
    close(ready[1]);
    close(go[0]);
    xread1(ready[0]);

    /* Arm the mechanism: fd is what poll waits on. */
    int64_t arm0 = now_ns();
    int fd = -1;
    short events = POLLIN;
    pid_t helper = 0;
    pthread_t thr;
    struct helper_arg arg = {m, -1};
    switch (m) {
    case FIFO:
        fd = open(lock_path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0) die("open %s", lock_path);
        if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
            errno = EINVAL;
            die("%s not held by the holder", lock_path);
        }
        break;
    case FLOCK_PROC:
    case FLOCK_THR:
    case OFD_THR:
        if (pipe2(notify, O_CLOEXEC) < 0) die("pipe2");
        fd = notify[0];
        arg.notify_w = notify[1];
        if (m == FLOCK_PROC) {
            helper = fork();
            if (helper < 0) die("fork");
            if (helper == 0) {
                close(notify[0]);
                helper_wait(m, notify[1]);
                _exit(0);
            }
        } else if ((errno = pthread_create(&thr, NULL, helper_thread, &arg)) != 0) {
            die("pthread_create");
        }
        while (!atomic_load(&sh->helper_calling)) sched_yield();
        wait_asleep(m == FLOCK_PROC ? helper : getpid(), atomic_load(&sh->helper_tid));
        break;
    case INOTIFY_DIR:
    case INOTIFY_CLOSE: {
        /* Drop the events of the holder's set-up (the marker written). */
        char buf[4096];
        fd = m == INOTIFY_DIR ? dir_ino : close_ino;
        while (read(fd, buf, sizeof buf) > 0) {}
        break;
    }
    case PIDFD:
        fd = (int)syscall(SYS_pidfd_open, h, 0);
        if (fd < 0) die("pidfd_open");
        break;
    case NMECH:
        break;
    }

    struct pollfd pfd = {.fd = fd, .events = events};
    res.arm = now_ns() - arm0;
    xwrite1(go[1]);
    int64_t before = now_ns();
    int r;
    while ((r = poll(&pfd, 1, 10000)) < 0 && errno == EINTR) {}
    int64_t t1 = now_ns();
    if (r == 0) {
        errno = ETIMEDOUT;
        die("%s: no wake within 10 s", NAMES[m]);
    }
    if (r < 0) die("%s: poll", NAMES[m]);
    int64_t t0 = atomic_load(&sh->t0);

    /* Check that the wake is the awaited event, then clean up. */
    switch (m) {
    case FIFO:
        if (!(pfd.revents & POLLHUP)) {
            errno = EPROTO;
            die("fifo: woke with revents %#x, not POLLHUP", pfd.revents);
        }
        int64_t c0 = now_ns();
        close(fd);
        res.close = now_ns() - c0;
        break;
    case FLOCK_PROC:
    case FLOCK_THR:
    case OFD_THR:
        xread1(notify[0]);
        if (m == FLOCK_PROC) {
            if (waitpid(helper, NULL, 0) < 0) die("waitpid helper");
        } else if ((errno = pthread_join(thr, NULL)) != 0) {
            die("pthread_join");
        }
        close(notify[0]);
        close(notify[1]);
        break;
    case INOTIFY_DIR:
    case INOTIFY_CLOSE: {
        char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
        uint32_t want = m == INOTIFY_DIR ? IN_MOVED_TO : IN_CLOSE_WRITE;
        int seen = 0;
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0) die("%s: read", NAMES[m]);
        for (char *p = buf; p < buf + n;) {
            struct inotify_event *ev = (struct inotify_event *)p;
            if ((ev->mask & want) && (m == INOTIFY_CLOSE || strcmp(ev->name, "P") == 0)) seen = 1;
            p += sizeof *ev + ev->len;
        }
        if (!seen) {
            errno = EPROTO;
            die("%s: woke without the awaited event", NAMES[m]);
        }
        break;
    }
    case PIDFD:
        close(fd);
        break;
    case NMECH:
        break;
    }
    if (waitpid(h, NULL, 0) < 0) die("waitpid holder");
    /* Drain what the holder's exit added after the wake (IN_CLOSE_WRITE of
     * the marker's writer was before; nothing else is expected). */
    if (m == INOTIFY_DIR || m == INOTIFY_CLOSE) {
        char buf[4096];
        while (read(fd, buf, sizeof buf) > 0) {}
    }
    close(ready[0]);
    close(go[1]);
    if (t0 == 0) {
        errno = EPROTO;
        die("%s: woke before the holder's t0", NAMES[m]);
    }
    res.late = t0 < before;
    res.wake = t1 - t0;
    if (m == FIFO) res.mark = t1 - atomic_load(&sh->t_mark);
    return res;
}

/* ---------------------------------------------------------------- close */

/* close(2) of a fresh inotify descriptor, in ns: with a watch on DIR/d that saw
 * one event (the old engine's case), or without any watch. */
static int64_t close_cost(int with_watch) {
    int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (fd < 0) die("inotify_init1");
    if (with_watch) {
        if (inotify_add_watch(fd, dir_path, IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE) < 0)
            die("inotify_add_watch %s", dir_path);
        int w = open(marker_tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (w < 0 || close(w) < 0 || rename(marker_tmp, marker_path) < 0) die("marker");
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, 10000) != 1) die("close trial: no event");
        char buf[4096];
        while (read(fd, buf, sizeof buf) > 0) {}
    }
    int64_t t0 = now_ns();
    close(fd);
    return now_ns() - t0;
}

/* ---------------------------------------------------------------- output */

static int cmp64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void report(const char *name, int64_t *s, int n, int late) {
    qsort(s, n, sizeof *s, cmp64);
    double med = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2.0;
    int k = (99 * n + 99) / 100; /* nearest rank: ceil(0.99 n) */
    printf("%s.median\t%.1f\n%s.p99\t%.1f\n%s.n\t%d\n", name, med / 1000, name,
           s[k - 1] / 1000.0, name, n);
    if (late >= 0) printf("%s.late\t%d\n", name, late);
}

int main(int argc, char **argv) {
    int trials = 0, close_trials = 0;
    const char *dir = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--trials")) trials = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--close-trials")) close_trials = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--dir")) dir = argv[i + 1];
    }
    if (trials < 1 || close_trials < 1 || !dir) {
        fprintf(stderr, "usage: bench_lockwake --trials N --close-trials M --dir DIR\n");
        return 2;
    }
    /* The markers of inotify-dir in a directory of their own: its watch
     * sees no other mechanism's files. */
    snprintf(dir_path, sizeof dir_path, "%s/d", dir);
    snprintf(lock_path, sizeof lock_path, "%s/.P.lock", dir);
    snprintf(ofd_path, sizeof ofd_path, "%s/L", dir);
    snprintf(watch_path, sizeof watch_path, "%s/W", dir);
    snprintf(fifo_mark_dir, sizeof fifo_mark_dir, "%s/m", dir);
    snprintf(fifo_mark_tmp, sizeof fifo_mark_tmp, "%s/.P.tmp", fifo_mark_dir);
    snprintf(fifo_mark_path, sizeof fifo_mark_path, "%s/P", fifo_mark_dir);
    snprintf(marker_tmp, sizeof marker_tmp, "%s/.P.tmp", dir_path);
    snprintf(marker_path, sizeof marker_path, "%s/P", dir_path);

    sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) die("mmap");
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) die("mkdir %s", dir);
    if (mkdir(dir_path, 0755) < 0 && errno != EEXIST) die("mkdir %s", dir_path);
    if (mkdir(fifo_mark_dir, 0755) < 0 && errno != EEXIST) die("mkdir %s", fifo_mark_dir);
    unlink(lock_path);
    if (mkfifo(lock_path, 0644) < 0) die("mkfifo %s", lock_path);
    for (const char *p = ofd_path;; p = watch_path) {
        int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0 || close(fd) < 0) die("create %s", p);
        if (p == watch_path) break;
    }
    /* The kept inotify instances: their close is measured apart (below). */
    dir_ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    close_ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (dir_ino < 0 || close_ino < 0) die("inotify_init1");
    if (inotify_add_watch(dir_ino, dir_path, IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE) < 0)
        die("inotify_add_watch %s", dir_path);
    if (inotify_add_watch(close_ino, watch_path, IN_CLOSE_WRITE) < 0)
        die("inotify_add_watch %s", watch_path);

    int64_t *samples[NMECH], *arms[NMECH];
    int64_t *fifo_close = calloc(trials, sizeof(int64_t)), *fifo_mark = calloc(trials, sizeof(int64_t));
    if (!fifo_close || !fifo_mark) die("calloc");
    int late[NMECH] = {0};
    for (int m = 0; m < NMECH; m++) {
        samples[m] = calloc(trials, sizeof(int64_t));
        arms[m] = calloc(trials, sizeof(int64_t));
        if (!samples[m] || !arms[m]) die("calloc");
    }
    enum mech order[NMECH];
    for (int m = 0; m < NMECH; m++) order[m] = m;
    srandom(1);
    for (int t = 0; t < trials; t++) {
        for (int i = NMECH - 1; i > 0; i--) { /* Fisher-Yates */
            int j = (int)(random() % (i + 1));
            enum mech x = order[i];
            order[i] = order[j];
            order[j] = x;
        }
        for (int i = 0; i < NMECH; i++) {
            enum mech m = order[i];
            struct result r = trial(m);
            samples[m][t] = r.wake;
            arms[m][t] = r.arm;
            late[m] += r.late;
            if (m == FIFO) {
                fifo_mark[t] = r.mark;
                fifo_close[t] = r.close;
            }
        }
    }
    char name[64];
    for (int m = 0; m < NMECH; m++) {
        report(NAMES[m], samples[m], trials, late[m]);
        snprintf(name, sizeof name, "%s.arm", NAMES[m]);
        report(name, arms[m], trials, -1);
    }

    close(dir_ino);
    close(close_ino);
    dir_ino = close_ino = -1;
    int64_t *cw = calloc(close_trials, sizeof(int64_t)), *cn = calloc(close_trials, sizeof(int64_t));
    if (!cw || !cn) die("calloc");
    for (int t = 0; t < close_trials; t++) {
        cw[t] = close_cost(1);
        cn[t] = close_cost(0);
    }
    report("fifo.mark", fifo_mark, trials, -1);
    report("close.fifo", fifo_close, trials, -1);
    report("close.watch", cw, close_trials, -1);
    report("close.nowatch", cn, close_trials, -1);
    return 0;
}
