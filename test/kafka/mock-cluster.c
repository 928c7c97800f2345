/*
 * A librdkafka mock cluster for tests: a Kafka protocol implementation in one
 * process, so tests need no JVM and no network beyond localhost.
 *
 *   mock-cluster <brokers> [topic:partitions ...]
 *
 * Prints the bootstrap list as one line on stdout, then reads commands from
 * stdin, one per line, and answers each with one line, "ok" or "error <why>":
 *   topic <name> <partitions>   create a topic (the mock has no CreateTopics API)
 *   down <broker|-1>            drop the broker's connections and refuse new ones
 *   up <broker|-1>              accept connections again
 *   rtt <broker|-1> <ms>        delay every response of the broker
 * Exits when stdin closes or on SIGTERM / SIGINT.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

static volatile sig_atomic_t stopping = 0;

static void on_signal(int sig) {
  (void)sig;
  stopping = 1;
}

static rd_kafka_resp_err_t create_topic(rd_kafka_mock_cluster_t *mc, const char *name, int partitions) {
  if (partitions < 1) return RD_KAFKA_RESP_ERR_INVALID_PARTITIONS;
  return rd_kafka_mock_topic_create(mc, name, partitions, 1);
}

static void answer(rd_kafka_resp_err_t err) {
  if (err) printf("error %s\n", rd_kafka_err2str(err));
  else printf("ok\n");
}

int main(int argc, char **argv) {
  char errstr[512], line[1024], name[512];
  int brokers = argc > 1 ? atoi(argv[1]) : 0;
  if (brokers < 1) {
    fprintf(stderr, "usage: %s <brokers> [topic:partitions ...]\n", argv[0]);
    return 2;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);

  /* No SA_RESTART: a signal interrupts the blocking read of stdin. */
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);

  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr);
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (!rk) {
    fprintf(stderr, "rd_kafka_new: %s\n", errstr);
    return 1;
  }
  rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, brokers);
  if (!mc) {
    fprintf(stderr, "rd_kafka_mock_cluster_new failed\n");
    return 1;
  }

  for (int i = 2; i < argc; i++) {
    int partitions = 0;
    const char *colon = strrchr(argv[i], ':');
    if (colon) partitions = atoi(colon + 1);
    if (!colon || colon == argv[i] || (size_t)(colon - argv[i]) >= sizeof name) {
      fprintf(stderr, "bad topic argument %s: expected name:partitions\n", argv[i]);
      return 2;
    }
    memcpy(name, argv[i], colon - argv[i]);
    name[colon - argv[i]] = '\0';
    rd_kafka_resp_err_t err = create_topic(mc, name, partitions);
    if (err) {
      fprintf(stderr, "topic %s: %s\n", name, rd_kafka_err2str(err));
      return 1;
    }
  }

  printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));

  while (!stopping && fgets(line, sizeof line, stdin)) {
    int broker = 0, value = 0;
    if (sscanf(line, "topic %511s %d", name, &value) == 2) answer(create_topic(mc, name, value));
    else if (sscanf(line, "down %d", &broker) == 1) answer(rd_kafka_mock_broker_set_down(mc, broker));
    else if (sscanf(line, "up %d", &broker) == 1) answer(rd_kafka_mock_broker_set_up(mc, broker));
    else if (sscanf(line, "rtt %d %d", &broker, &value) == 2) answer(rd_kafka_mock_broker_set_rtt(mc, broker, value));
    else printf("error unknown command\n");
  }

  rd_kafka_mock_cluster_destroy(mc);
  rd_kafka_destroy(rk);
  return 0;
}
