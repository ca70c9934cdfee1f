/*
 * nfq-delay: holds every packet of one netfilter queue for a fixed time, then accepts it, in
 * arrival order. The test network's stand-in for `tc qdisc ... netem delay`, which this kernel
 * lacks (no sch_netem). Built at test time against libnetfilter-queue (harness/impairment.ts).
 *
 *   nfq-delay <queue-num> <delay-ms>      prints "ready" once bound; runs until killed
 */
#include <arpa/inet.h>
#include <errno.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <libnfnetlink/libnfnetlink.h>
#include <linux/netfilter.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* More than a delayed link holds at once in the tests (a few MB/s for 300 ms). */
#define CAPACITY 65536

static struct held { uint32_t id; int64_t due_us; } ring[CAPACITY];
static size_t head, count;
static int64_t delay_us;
static unsigned long overflow;

static int64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int on_packet(struct nfq_q_handle *qh, struct nfgenmsg *msg, struct nfq_data *nfa, void *data) {
  (void)msg;
  (void)data;
  struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);
  if (!ph) return 0;
  uint32_t id = ntohl(ph->packet_id);
  if (count == CAPACITY) {
    /* A full ring: let the packet through undelayed rather than stall the queue; counted. */
    overflow++;
    return nfq_set_verdict(qh, id, NF_ACCEPT, 0, NULL);
  }
  ring[(head + count) % CAPACITY] = (struct held){ id, now_us() + delay_us };
  count++;
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: nfq-delay <queue-num> <delay-ms>\n");
    return 2;
  }
  int queue = atoi(argv[1]);
  delay_us = atoll(argv[2]) * 1000;
  struct nfq_handle *h = nfq_open();
  if (!h) { perror("nfq_open"); return 1; }
  struct nfq_q_handle *qh = nfq_create_queue(h, (uint16_t)queue, &on_packet, NULL);
  if (!qh) { perror("nfq_create_queue"); return 1; }
  if (nfq_set_mode(qh, NFQNL_COPY_META, 0) < 0) { perror("nfq_set_mode"); return 1; }
  nfq_set_queue_maxlen(qh, CAPACITY);
  int fd = nfq_fd(h);
  /* Deep socket buffer: packets wait in our ring, not in the socket. */
  nfnl_rcvbufsiz(nfq_nfnlh(h), 8 * 1024 * 1024);
  printf("ready\n");
  fflush(stdout);
  char buf[65536] __attribute__((aligned));
  for (;;) {
    int timeout = -1;
    if (count > 0) {
      /* poll() counts whole milliseconds: round up, so that nothing leaves early. */
      int64_t wait = ring[head].due_us - now_us();
      timeout = wait <= 0 ? 0 : (int)((wait + 999) / 1000);
    }
    struct pollfd pfd = { fd, POLLIN, 0 };
    int ready = poll(&pfd, 1, timeout);
    if (ready < 0 && errno != EINTR) { perror("poll"); return 1; }
    if (ready > 0) {
      ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0) nfq_handle_packet(h, buf, (int)n);
      else if (n < 0 && errno == ENOBUFS) fprintf(stderr, "nfq-delay: socket buffer overrun, packets lost\n");
    }
    int64_t now = now_us();
    while (count > 0 && ring[head].due_us <= now) {
      nfq_set_verdict(qh, ring[head].id, NF_ACCEPT, 0, NULL);
      head = (head + 1) % CAPACITY;
      count--;
    }
    if (overflow > 0 && overflow % 1000 == 1) fprintf(stderr, "nfq-delay: ring full, %lu packets passed undelayed\n", overflow);
  }
}
