// Open-loop HTTP/1.1 GET load at a fixed rate, for the "p99 added at 1,000 requests/s" row of
// `npm run bench -- --only proxy` (issue 10). The same schedule as http-load-fixed-rate.ts (request n
// goes to target n % k, due at start + n * step; its latency counts from when it was due, so a stall
// shows up in the percentiles: no coordinated omission), written in C so that the generator adds no
// garbage collector, JIT or event-loop pause of its own to the tail it measures. Compiled by the
// bench with the machine's C compiler (proxy-targets.ts); Linux only (epoll, timerfd).
//
//   fixed-rate-load RATE DURATION_MS WARMUP_MS CONNECTIONS TIMEOUT_MS HOST:PORT/PATH...
//
// Prints one JSON line: per target, in order, {ok, errors, firstError, p50Ms, p99Ms, maxMs}.
// A request not answered within TIMEOUT_MS counts as an error and its connection is replaced.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define BUFFER_BYTES 65536

struct target;

struct conn {
  struct target *target;
  int fd;
  int connected;
  int busy;
  double due_ms;     // when the request in flight was due
  double sent_ms;    // when it was written (for the timeout)
  size_t used;       // bytes in buf
  char buf[BUFFER_BYTES];
};

struct target {
  struct sockaddr_in addr;
  char request[1024];
  size_t request_len;
  struct conn *conns;
  int nconns;
  double *queue;     // due times of requests waiting for a free connection (ring)
  size_t queue_cap, queue_head, queue_len;
  double *latencies;
  size_t nlat, lat_cap;
  long ok, errors;
  char first_error[160];
};

static int epfd;
static double measure_from_ms;
static double timeout_ms;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void fail(const char *what) {
  fprintf(stderr, "fixed-rate-load: %s: %s\n", what, strerror(errno));
  exit(2);
}

static void note_error(struct target *t, double due_ms, const char *message) {
  if (due_ms >= measure_from_ms) t->errors++;
  if (t->first_error[0] == '\0') snprintf(t->first_error, sizeof t->first_error, "%s", message);
}

static void open_conn(struct conn *c) {
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0) fail("socket");
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(c->fd, (struct sockaddr *)&c->target->addr, sizeof c->target->addr) < 0 && errno != EINPROGRESS) fail("connect");
  c->connected = 0;
  c->busy = 0;
  c->used = 0;
  struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP, .data.ptr = c };
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) fail("epoll_ctl");
}

/** Closes a connection (its request in flight, if any, failed with `message`) and opens another. */
static void replace_conn(struct conn *c, const char *message) {
  if (c->busy) note_error(c->target, c->due_ms, message);
  epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  open_conn(c);
}

static void send_on(struct conn *c, double due_ms) {
  struct target *t = c->target;
  ssize_t n = write(c->fd, t->request, t->request_len);
  if (n != (ssize_t)t->request_len) {
    c->busy = 1;
    c->due_ms = due_ms;
    replace_conn(c, n < 0 ? "write failed" : "short write");
    return;
  }
  c->busy = 1;
  c->due_ms = due_ms;
  c->sent_ms = now_ms();
}

/** A request is due: an idle connected connection takes it, or it waits in the target's queue. */
static void dispatch(struct target *t, double due_ms) {
  for (int i = 0; i < t->nconns; i++) {
    struct conn *c = &t->conns[i];
    if (c->connected && !c->busy) return send_on(c, due_ms);
  }
  if (t->queue_len == t->queue_cap) {
    note_error(t, due_ms, "queue full");
    return;
  }
  t->queue[(t->queue_head + t->queue_len++) % t->queue_cap] = due_ms;
}

static void take_queued(struct conn *c) {
  struct target *t = c->target;
  if (t->queue_len == 0) return;
  double due_ms = t->queue[t->queue_head];
  t->queue_head = (t->queue_head + 1) % t->queue_cap;
  t->queue_len--;
  send_on(c, due_ms);
}

static void record(struct target *t, double due_ms, int status) {
  if (status < 200 || status >= 400) {
    char message[64];
    snprintf(message, sizeof message, "HTTP %d", status);
    note_error(t, due_ms, message);
    return;
  }
  if (due_ms < measure_from_ms) return;
  t->ok++;
  if (t->nlat == t->lat_cap) {
    t->lat_cap = t->lat_cap ? t->lat_cap * 2 : 4096;
    t->latencies = realloc(t->latencies, t->lat_cap * sizeof(double));
    if (t->latencies == NULL) fail("realloc");
  }
  t->latencies[t->nlat++] = now_ms() - due_ms;
}

/**
 * Parses one whole response at the start of c->buf: its length in bytes (head and body), 0 when more
 * bytes are needed, -1 when it cannot be read. Bodies are framed by Content-Length or chunked.
 */
static long parse_response(struct conn *c, int *status) {
  char *buf = c->buf;
  char *end = memmem(buf, c->used, "\r\n\r\n", 4);
  if (end == NULL) return c->used == BUFFER_BYTES ? -1 : 0;
  size_t head = (size_t)(end - buf) + 4;
  if (c->used < 12 || memcmp(buf, "HTTP/1.", 7) != 0) return -1;
  *status = atoi(buf + 9);
  long length = -1;
  int chunked = 0;
  for (char *line = memchr(buf, '\n', head) + 1; line < buf + head - 2; line = memchr(line, '\n', buf + head - line) + 1) {
    if (strncasecmp(line, "content-length:", 15) == 0) length = strtol(line + 15, NULL, 10);
    else if (strncasecmp(line, "transfer-encoding:", 18) == 0) chunked = 1;
  }
  if (!chunked) {
    if (length < 0) length = 0;
    return c->used >= head + (size_t)length ? (long)(head + length) : (head + length > BUFFER_BYTES ? -1 : 0);
  }
  size_t at = head;
  for (;;) {
    char *size_end = memmem(buf + at, c->used - at, "\r\n", 2);
    if (size_end == NULL) return 0;
    long size = strtol(buf + at, NULL, 16);
    at = (size_t)(size_end - buf) + 2;
    if (size == 0) {
      // No trailers expected: the last chunk is followed by the final CRLF.
      return c->used >= at + 2 ? (long)(at + 2) : 0;
    }
    if (c->used < at + (size_t)size + 2) return at + size + 2 > BUFFER_BYTES ? -1 : 0;
    at += (size_t)size + 2;
  }
}

static void on_readable(struct conn *c) {
  for (;;) {
    ssize_t n = read(c->fd, c->buf + c->used, BUFFER_BYTES - c->used);
    if (n == 0) return replace_conn(c, "connection closed by the server");
    if (n < 0) {
      if (errno == EAGAIN) return;
      return replace_conn(c, "read failed");
    }
    c->used += (size_t)n;
    int status = 0;
    long length = parse_response(c, &status);
    if (length < 0 || !c->busy) return replace_conn(c, "unreadable response");
    if (length == 0) continue;
    record(c->target, c->due_ms, status);
    c->busy = 0;
    memmove(c->buf, c->buf + length, c->used - (size_t)length);
    c->used -= (size_t)length;
    take_queued(c);
    return;
  }
}

static int compare(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double percentile(struct target *t, double p) {
  if (t->nlat == 0) return 0;
  size_t rank = (size_t)(p / 100 * t->nlat + 0.999999);
  if (rank < 1) rank = 1;
  if (rank > t->nlat) rank = t->nlat;
  return t->latencies[rank - 1];
}

int main(int argc, char **argv) {
  if (argc < 7) {
    fprintf(stderr, "usage: fixed-rate-load RATE DURATION_MS WARMUP_MS CONNECTIONS TIMEOUT_MS HOST:PORT/PATH...\n");
    return 2;
  }
  double rate = atof(argv[1]), duration_ms = atof(argv[2]), warmup_ms = atof(argv[3]);
  int connections = atoi(argv[4]);
  timeout_ms = atof(argv[5]);
  int ntargets = argc - 6;
  if (rate <= 0 || duration_ms <= 0 || connections <= 0 || timeout_ms <= 0) {
    fprintf(stderr, "fixed-rate-load: RATE, DURATION_MS, CONNECTIONS and TIMEOUT_MS must be positive\n");
    return 2;
  }
  epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) fail("epoll_create1");
  struct target *targets = calloc((size_t)ntargets, sizeof *targets);
  for (int i = 0; i < ntargets; i++) {
    struct target *t = &targets[i];
    char host[64];
    int port;
    char path[512] = "/";
    if (sscanf(argv[6 + i], "%63[^:]:%d%511s", host, &port, path) < 2 || inet_pton(AF_INET, host, &t->addr.sin_addr) != 1) {
      fprintf(stderr, "fixed-rate-load: expected IPV4:PORT/PATH, got %s\n", argv[6 + i]);
      return 2;
    }
    t->addr.sin_family = AF_INET;
    t->addr.sin_port = htons((uint16_t)port);
    t->request_len = (size_t)snprintf(t->request, sizeof t->request, "GET %s HTTP/1.1\r\nHost: %s:%d\r\n\r\n", path, host, port);
    t->nconns = connections;
    t->conns = calloc((size_t)connections, sizeof *t->conns);
    t->queue_cap = (size_t)(rate * timeout_ms / 1000) + 16;
    t->queue = calloc(t->queue_cap, sizeof(double));
    if (t->conns == NULL || t->queue == NULL) fail("calloc");
    for (int j = 0; j < connections; j++) {
      t->conns[j].target = t;
      open_conn(&t->conns[j]);
    }
  }
  int timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (timer < 0) fail("timerfd_create");
  struct epoll_event tev = { .events = EPOLLIN, .data.ptr = NULL };
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, timer, &tev) < 0) fail("epoll_ctl");

  double step_ms = 1000 / (rate * ntargets);
  double start = now_ms();
  measure_from_ms = start + warmup_ms;
  double end = measure_from_ms + duration_ms;
  long n = 0;
  struct epoll_event events[64];
  for (;;) {
    double now = now_ms();
    for (double due = start + n * step_ms; due <= now && due < end; due = start + ++n * step_ms) dispatch(&targets[n % ntargets], due);
    int in_flight = 0;
    for (int i = 0; i < ntargets; i++) {
      struct target *t = &targets[i];
      in_flight += (int)t->queue_len;
      for (int j = 0; j < t->nconns; j++) {
        struct conn *c = &t->conns[j];
        if (c->busy && now - c->sent_ms > timeout_ms) replace_conn(c, "timed out");
        in_flight += c->busy;
        // A queued request waits past its deadline only while no connection could take it.
        if (t->queue_len > 0 && now - t->queue[t->queue_head] > timeout_ms) {
          note_error(t, t->queue[t->queue_head], "timed out waiting for a connection");
          t->queue_head = (t->queue_head + 1) % t->queue_cap;
          t->queue_len--;
        }
      }
    }
    double next = start + n * step_ms;
    if (next >= end && in_flight == 0) break;
    if (now > end + timeout_ms + 1000) break; // every request has had its deadline
    // Wake at the next due time (absolute, to the nanosecond), or within 100 ms to check deadlines.
    double wake = next < end ? next : now + 100;
    if (wake > now + 100) wake = now + 100;
    struct itimerspec its = { 0 };
    its.it_value.tv_sec = (time_t)(wake / 1000);
    its.it_value.tv_nsec = (long)((wake - its.it_value.tv_sec * 1000.0) * 1e6);
    if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0) its.it_value.tv_nsec = 1;
    timerfd_settime(timer, TFD_TIMER_ABSTIME, &its, NULL);
    int ready = epoll_wait(epfd, events, 64, -1);
    if (ready < 0 && errno != EINTR) fail("epoll_wait");
    for (int i = 0; i < ready; i++) {
      struct conn *c = events[i].data.ptr;
      if (c == NULL) {
        uint64_t expirations;
        if (read(timer, &expirations, sizeof expirations) < 0 && errno != EAGAIN) fail("read timerfd");
        continue;
      }
      if (!c->connected && (events[i].events & EPOLLOUT)) {
        int error = 0;
        socklen_t len = sizeof error;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &error, &len);
        if (error != 0) {
          struct target *t = c->target;
          if (t->first_error[0] == '\0') snprintf(t->first_error, sizeof t->first_error, "connect failed: %s", strerror(error));
          replace_conn(c, "connect failed");
          continue;
        }
        c->connected = 1;
        struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.ptr = c };
        epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
        take_queued(c);
        continue;
      }
      if (events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) on_readable(c);
    }
  }

  printf("[");
  for (int i = 0; i < ntargets; i++) {
    struct target *t = &targets[i];
    qsort(t->latencies, t->nlat, sizeof(double), compare);
    printf("%s{\"ok\":%ld,\"errors\":%ld,\"firstError\":", i ? "," : "", t->ok, t->errors);
    if (t->first_error[0] == '\0') printf("null");
    else printf("\"%s\"", t->first_error);
    printf(",\"durationMs\":%.0f,\"opsPerSecond\":%.1f,\"p50Ms\":%.3f,\"p99Ms\":%.3f,\"maxMs\":%.3f}", duration_ms, (t->ok + t->errors) / (duration_ms / 1000), percentile(t, 50), percentile(t, 99), percentile(t, 100));
  }
  printf("]\n");
  return 0;
}
