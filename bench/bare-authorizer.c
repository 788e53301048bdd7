/*
 * bare-authorizer.c -- the bare cost of the nginx auth_request -> FastCGI hop.
 *
 * A minimal libfcgi (FCGX_*) authorizer used by bench/run.sh as the baseline Keyward is measured
 * against. It does as little as a FastCGI auth check can do: accept, read the params, compare one
 * header with one fixed string, write a fixed reply, close. No database, no hashing, no logging.
 *
 * Usage:   TOKEN=secret [THREADS=4] bare-authorizer /path/to/bare.sock
 * Build:   gcc -O2 -Wall -Wextra -o bare-authorizer bench/bare-authorizer.c -lfcgi -lpthread
 *
 * Allow:   HTTP_AUTHORIZATION == "Bearer $TOKEN"  ->  Status: 200, X-Auth-User: bench, Content-Length: 0
 * Deny:    anything else                          ->  Status: 401 + WWW-Authenticate: Bearer ...
 *
 * The socket is created here (not with FCGX_OpenSocket, which unlink()s a live server's socket and
 * exit()s on bind errors) and made mode 0666 before listen(), because nginx workers run as www-data.
 * SIGTERM/SIGINT: a sigwait thread calls FCGX_ShutdownPending() and shutdown()s the listen fd, which
 * wakes every worker blocked in accept(); workers finish their current request and the process exits.
 */
#include <fcgiapp.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int listen_fd = -1;
static volatile sig_atomic_t stopping = 0;
static char *expected;          /* "Bearer $TOKEN" */

static const char allow_reply[] =
    "Status: 200\r\n"
    "X-Auth-User: bench\r\n"
    "Content-Length: 0\r\n"
    "\r\n";
static const char deny_reply_missing[] =
    "Status: 401\r\n"
    "WWW-Authenticate: Bearer realm=\"bench\"\r\n"
    "Content-Length: 0\r\n"
    "\r\n";
static const char deny_reply_invalid[] =
    "Status: 401\r\n"
    "WWW-Authenticate: Bearer realm=\"bench\", error=\"invalid_token\"\r\n"
    "Content-Length: 0\r\n"
    "\r\n";

static void *worker(void *arg)
{
    (void)arg;
    FCGX_Request req;
    if (FCGX_InitRequest(&req, listen_fd, 0) != 0) return NULL;
    for (;;) {
        /* No mutex: Debian's libfcgi has no accept locking and concurrent accept() is fine on Linux. */
        if (FCGX_Accept_r(&req) < 0) break;
        const char *authz = FCGX_GetParam("HTTP_AUTHORIZATION", req.envp);
        if (authz && strcmp(authz, expected) == 0)
            FCGX_PutStr(allow_reply, (int)(sizeof allow_reply - 1), req.out);
        else if (authz)
            FCGX_PutStr(deny_reply_invalid, (int)(sizeof deny_reply_invalid - 1), req.out);
        else
            FCGX_PutStr(deny_reply_missing, (int)(sizeof deny_reply_missing - 1), req.out);
        FCGX_Finish_r(&req);
        if (stopping) break;
    }
    FCGX_Free(&req, 1);
    return NULL;
}

static void *sigthread(void *arg)
{
    sigset_t *set = arg;
    int sig = 0;
    sigwait(set, &sig);
    stopping = 1;
    FCGX_ShutdownPending();
    shutdown(listen_fd, SHUT_RDWR);   /* accept() in every worker returns EINVAL -> FCGX_Accept_r < 0 */
    return NULL;
}

/* Bind a unix socket at path, mode 0666. Refuses to replace a socket a live server answers on. */
static int open_unix_socket(const char *path)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sa.sun_path) { fprintf(stderr, "bare-authorizer: socket path too long\n"); return -1; }
    strcpy(sa.sun_path, path);

    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) { fprintf(stderr, "bare-authorizer: %s exists and is not a socket\n", path); return -1; }
        int probe = socket(AF_UNIX, SOCK_STREAM, 0);
        if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof sa) == 0) {
            close(probe);
            fprintf(stderr, "bare-authorizer: a server is already listening on %s\n", path);
            return -1;
        }
        if (probe >= 0) close(probe);
        unlink(path);   /* stale socket file */
    }

    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) { perror("bare-authorizer: socket"); return -1; }
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) { perror("bare-authorizer: bind"); close(fd); return -1; }
    if (chmod(path, 0666) != 0) { perror("bare-authorizer: chmod"); close(fd); unlink(path); return -1; }
    if (listen(fd, 1024) != 0) { perror("bare-authorizer: listen"); close(fd); unlink(path); return -1; }
    return fd;
}

int main(int argc, char **argv)
{
    if (argc != 2 || argv[1][0] != '/') {
        fprintf(stderr, "usage: TOKEN=secret [THREADS=4] %s /absolute/path/to/socket\n", argv[0]);
        return 2;
    }
    const char *token = getenv("TOKEN");
    if (!token || !*token) { fprintf(stderr, "bare-authorizer: TOKEN is not set\n"); return 2; }
    size_t n = strlen("Bearer ") + strlen(token) + 1;
    expected = malloc(n);
    if (!expected) return 1;
    snprintf(expected, n, "Bearer %s", token);

    int nthreads = 4;
    const char *t = getenv("THREADS");
    if (t && *t) {
        nthreads = atoi(t);
        if (nthreads < 1 || nthreads > 1024) { fprintf(stderr, "bare-authorizer: bad THREADS=%s\n", t); return 2; }
    }

    /* Block TERM/INT before FCGX_Init and before any thread exists: libfcgi's own SIGTERM handler
     * only sets a flag and would not stop a threaded app. All threads inherit the mask. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (FCGX_Init() != 0) { fprintf(stderr, "bare-authorizer: FCGX_Init failed\n"); return 1; }
    listen_fd = open_unix_socket(argv[1]);
    if (listen_fd < 0) return 1;

    pthread_t st;
    if (pthread_create(&st, NULL, sigthread, &set) != 0) { fprintf(stderr, "bare-authorizer: pthread_create failed\n"); return 1; }
    pthread_detach(st);

    pthread_t *th = calloc((size_t)nthreads, sizeof *th);
    if (!th) return 1;
    int started = 0;
    for (int i = 0; i < nthreads; i++)
        if (pthread_create(&th[i], NULL, worker, NULL) == 0) started++;
        else break;
    if (started == 0) { fprintf(stderr, "bare-authorizer: no worker threads\n"); unlink(argv[1]); return 1; }
    fprintf(stderr, "bare-authorizer: listening on %s with %d threads\n", argv[1], started);

    for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
    unlink(argv[1]);
    fprintf(stderr, "bare-authorizer: stopped\n");
    free(th);
    free(expected);
    return 0;
}
