/*
 * A stand-in for a vPLC's control loop: wakes on a fixed tick (clock_nanosleep to an absolute
 * CLOCK_MONOTONIC time), computes a fixed amount of work, and records how late it woke and how
 * late the scan ended after its tick. A scan that ends after the next tick is an overrun; the
 * ticks it ran over are skipped, as a PLC skips cycles, and not counted as cycles.
 *
 * The work is a number of loop iterations, not a time: under contention it takes longer, as a real
 * scan does. `--calibrate` prints the iterations that take `--work-us` on an idle core (the fastest
 * of several runs); the measuring runs take that number with `--work-iterations`.
 *
 * Built statically (harness/control-loop.ts) and copied into a test container, which has
 * only busybox. Usage:
 *   cyclic-task --calibrate [--work-us 1000]
 *   cyclic-task [--period-us 2000] [--work-iterations N] [--cycles N (0: until SIGTERM)]
 *               [--resident-mb N]
 * On its end (the cycles done, or SIGTERM/SIGINT) it prints one JSON object on stdout:
 *   {"cycles":…,"overruns":…,"periodUs":…,"workIterations":…,"wakeLateUs":[…],"endLateUs":[…]}
 * with one sample per cycle in microseconds.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Samples kept when running until stopped: 10 minutes of 2 ms cycles. */
#define MAX_SAMPLES 300000

static volatile sig_atomic_t stop_requested = 0;
static volatile uint64_t sink;

static void on_stop(int sig) {
  (void)sig;
  stop_requested = 1;
}

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static struct timespec to_timespec(int64_t ns) {
  struct timespec ts = {.tv_sec = ns / 1000000000LL, .tv_nsec = ns % 1000000000LL};
  return ts;
}

/* The scan: a linear congruential walk the compiler cannot drop (its result goes to a volatile). */
static void work(uint64_t iterations) {
  uint64_t x = 88172645463325252ULL;
  for (uint64_t i = 0; i < iterations; i++) x = x * 6364136223846793005ULL + 1442695040888963407ULL;
  sink = x;
}

static uint64_t calibrate(int64_t work_us) {
  const uint64_t probe = 200000;
  int64_t best = INT64_MAX;
  for (int run = 0; run < 30; run++) {
    int64_t t0 = now_ns();
    work(probe);
    int64_t took = now_ns() - t0;
    if (took < best) best = took;
  }
  if (best <= 0) best = 1;
  return (uint64_t)((double)probe * (double)work_us * 1000.0 / (double)best);
}

static long arg_long(int argc, char **argv, const char *name, long fallback) {
  for (int i = 1; i + 1 < argc; i++)
    if (strcmp(argv[i], name) == 0) return strtol(argv[i + 1], NULL, 10);
  return fallback;
}

static int has_flag(int argc, char **argv, const char *name) {
  for (int i = 1; i < argc; i++)
    if (strcmp(argv[i], name) == 0) return 1;
  return 0;
}

static void print_samples(const char *key, const int32_t *values, long count) {
  printf("\"%s\":[", key);
  for (long i = 0; i < count; i++) printf(i == 0 ? "%d" : ",%d", values[i]);
  printf("]");
}

int main(int argc, char **argv) {
  long work_us = arg_long(argc, argv, "--work-us", 1000);
  if (has_flag(argc, argv, "--calibrate")) {
    printf("%llu\n", (unsigned long long)calibrate(work_us));
    return 0;
  }
  long period_us = arg_long(argc, argv, "--period-us", 2000);
  long cycles = arg_long(argc, argv, "--cycles", 2500);
  long resident_mb = arg_long(argc, argv, "--resident-mb", 0);
  long iterations = arg_long(argc, argv, "--work-iterations", 0);
  if (period_us <= 0 || cycles < 0 || resident_mb < 0 || iterations < 0) {
    fprintf(stderr, "cyclic-task: bad arguments\n");
    return 2;
  }
  if (iterations == 0) iterations = (long)calibrate(work_us);

  /* The runtime's own memory, touched so that it is resident (and counts for the OOM killer). */
  if (resident_mb > 0) {
    size_t bytes = (size_t)resident_mb * 1024 * 1024;
    char *resident = malloc(bytes);
    if (resident == NULL) {
      fprintf(stderr, "cyclic-task: cannot allocate %ld MiB\n", resident_mb);
      return 1;
    }
    for (size_t i = 0; i < bytes; i += 4096) resident[i] = (char)i;
    sink = (uint64_t)(uintptr_t)resident;
  }

  long capacity = cycles > 0 ? cycles : MAX_SAMPLES;
  int32_t *wake_late = calloc((size_t)capacity, sizeof(int32_t));
  int32_t *end_late = calloc((size_t)capacity, sizeof(int32_t));
  if (wake_late == NULL || end_late == NULL) {
    fprintf(stderr, "cyclic-task: cannot allocate the samples\n");
    return 1;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);

  const int64_t period = (int64_t)period_us * 1000;
  int64_t tick = now_ns() + period;
  long done = 0, overruns = 0;
  while (!stop_requested && (cycles == 0 || done < cycles)) {
    struct timespec at = to_timespec(tick);
    int rc;
    while ((rc = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL)) == EINTR && !stop_requested) {
    }
    if (stop_requested) break;
    int64_t woke = now_ns();
    work((uint64_t)iterations);
    int64_t ended = now_ns();
    if (done < capacity) {
      wake_late[done] = (int32_t)((woke - tick) / 1000);
      end_late[done] = (int32_t)((ended - tick) / 1000);
    }
    done++;
    tick += period;
    if (ended > tick) {
      overruns++;
      while (tick < ended) tick += period;
    }
  }
  long kept = done < capacity ? done : capacity;
  printf("{\"cycles\":%ld,\"overruns\":%ld,\"periodUs\":%ld,\"workIterations\":%ld,", done, overruns, period_us, iterations);
  print_samples("wakeLateUs", wake_late, kept);
  printf(",");
  print_samples("endLateUs", end_late, kept);
  printf("}\n");
  return 0;
}
