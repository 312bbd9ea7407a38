/*  tail: `shequ tail [prefix]` subscribes to the bus's events and prints each as one JSON
    line: {"topic": ..., then the envelope's fields}. Every envelope is checked with
    sq_envelope_decode first; one that fails is reported on stderr and skipped, so that a
    broken publisher cannot break the stream a script is reading. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define CLI_TAIL_POLL_MS 250 //  longest wait before the stop flag is looked at again
#define CLI_TAIL_FRAMES 2    //  topic, envelope

static volatile sig_atomic_t s_stop; //  set by SIGINT or SIGTERM

typedef struct {
    const char *prefix; //  topic prefix subscribed to, "" for every event
    int64_t count;      //  exit after this many events printed
    int64_t timeout_ms; //  exit after this long without a message, -1 never
} s_tail_options_t;

static void
s_on_signal (int signal_number)
{
    (void) signal_number;
    s_stop = 1;
}

//  Without SA_RESTART, so that a signal interrupts zmq_poll at once.
static int
s_tail_signals (void)
{
    struct sigaction action;
    memset (&action, 0, sizeof action);
    action.sa_handler = s_on_signal;
    sigemptyset (&action.sa_mask);
    if (sigaction (SIGINT, &action, NULL) || sigaction (SIGTERM, &action, NULL)) {
        fprintf (stderr, "shequ: could not install signal handlers: %s\n", strerror (errno));
        return -1;
    }
    return 0;
}

static int
s_tail_options (int argc, char **argv, s_tail_options_t *options)
{
    static const struct option long_options[] = {{"count", required_argument, NULL, 'n'},
                                                 {"timeout", required_argument, NULL, 't'},
                                                 {NULL, 0, NULL, 0}};
    options->prefix = "";
    options->count = CLI_TAIL_COUNT_MAX;
    options->timeout_ms = -1;
    int option;
    while ((option = getopt_long (argc, argv, "", long_options, NULL)) != -1) {
        if (option == 'n') {
            if (cli_parse_int ("--count", optarg, 1, CLI_TAIL_COUNT_MAX, &options->count)) {
                return -1;
            }
        } else if (option == 't') {
            if (cli_parse_int ("--timeout", optarg, 1, CLI_TIMEOUT_MS_MAX, &options->timeout_ms)) {
                return -1;
            }
        } else {
            return -1; //  getopt_long has said what was wrong
        }
    }
    if (argc - optind > 1) {
        fprintf (stderr, "shequ: tail takes at most one topic prefix, e.g. shequ tail "
                         "registry.resident_registered.1301\n");
        return -1;
    }
    if (argc - optind == 1) options->prefix = argv[optind];
    return 0;
}

//  A SUB socket on the bus's events out, subscribed to prefix. NULL on failure (reported).
static void *
s_tail_socket (const char *endpoint, const char *prefix)
{
    void *context = sq_zmq_context ();
    void *socket = context ? zmq_socket (context, ZMQ_SUB) : NULL;
    if (!socket) {
        fprintf (stderr, "shequ: could not create a socket: %s\n", zmq_strerror (errno));
        return NULL;
    }
    if (sq_zmq_socket_setup (socket) || zmq_connect (socket, endpoint)
        || zmq_setsockopt (socket, ZMQ_SUBSCRIBE, prefix, strlen (prefix))) {
        fprintf (stderr, "shequ: could not subscribe to the bus at %s: %s\n", endpoint,
                 zmq_strerror (errno));
        zmq_close (socket);
        return NULL;
    }
    return socket;
}

//  Prints root, an envelope map, as one line with the topic in front of its fields.
static int
s_tail_print (const char *topic, size_t topic_size, const msgpack_object *root)
{
    const msgpack_object_map *fields = &root->via.map;
    msgpack_object_kv *pairs = malloc ((fields->size + 1) * sizeof *pairs);
    if (!pairs) {
        fprintf (stderr, "shequ: out of memory\n");
        return -1;
    }
    pairs[0].key.type = MSGPACK_OBJECT_STR;
    pairs[0].key.via.str = (msgpack_object_str) {.size = 5, .ptr = "topic"};
    pairs[0].val.type = MSGPACK_OBJECT_STR;
    pairs[0].val.via.str = (msgpack_object_str) {.size = (uint32_t) topic_size, .ptr = topic};
    if (fields->size) memcpy (pairs + 1, fields->ptr, fields->size * sizeof *pairs);
    msgpack_object line = {.type = MSGPACK_OBJECT_MAP};
    line.via.map = (msgpack_object_map) {.size = fields->size + 1, .ptr = pairs};
    int rc = cli_print_json (stdout, &line, false);
    free (pairs);
    return rc;
}

//  Checks one message and prints it. Returns 1 printed, 0 skipped as malformed, -1 when
//  the output failed.
static int
s_tail_event (zmq_msg_t *frames, int count)
{
    if (count != CLI_TAIL_FRAMES) {
        fprintf (stderr, "shequ: skipped a malformed event: %d frames, expected %d\n", count,
                 CLI_TAIL_FRAMES);
        return 0;
    }
    const char *topic = zmq_msg_data (&frames[0]);
    size_t topic_size = zmq_msg_size (&frames[0]);
    int topic_shown = topic_size < SQ_TOPIC_MAX ? (int) topic_size : SQ_TOPIC_MAX;
    char why[CLI_WHY_MAX];
    sq_doc_t *doc = sq_doc_new (zmq_msg_data (&frames[1]), zmq_msg_size (&frames[1]), why,
                                sizeof why);
    sq_envelope_t envelope;
    sq_error_t err = {0};
    if (!doc || sq_envelope_decode (sq_doc_root (doc), &envelope, &err)) {
        fprintf (stderr, "shequ: skipped a malformed event on topic \"%.*s\": %s\n", topic_shown,
                 topic, doc ? err.message : why);
        sq_doc_destroy (&doc);
        return 0;
    }
    //  The topic is what subscribers select on; one that disagrees with the envelope
    //  points at a publisher bug, worth telling, but the event itself is sound.
    char expected[SQ_TOPIC_MAX];
    if (sq_envelope_topic (&envelope, expected, sizeof expected) == 0
        && (strlen (expected) != topic_size || memcmp (expected, topic, topic_size) != 0)) {
        fprintf (stderr, "shequ: topic \"%.*s\" does not match the envelope (\"%s\")\n",
                 topic_shown, topic, expected);
    }
    int rc = s_tail_print (topic, topic_size, sq_doc_root (doc));
    sq_doc_destroy (&doc);
    return rc == 0 ? 1 : -1;
}

//  Reads every message waiting on socket, up to *left events. Returns 0, or -1 when the
//  socket or the output failed.
static int
s_tail_drain (void *socket, int64_t *left)
{
    while (*left > 0 && !s_stop) {
        zmq_msg_t frames[CLI_TAIL_FRAMES];
        int count = sq_zmq_frames_recv (socket, frames, CLI_TAIL_FRAMES, ZMQ_DONTWAIT);
        if (count == -1) return errno == EAGAIN || errno == EINTR ? 0 : -1;
        int rc = s_tail_event (frames, count);
        sq_zmq_frames_close (frames, count < CLI_TAIL_FRAMES ? (size_t) count : CLI_TAIL_FRAMES);
        if (rc < 0) return -1;
        *left -= rc;
    }
    return 0;
}

//  Waits for events until the count is reached, the quiet timeout passes or a signal comes.
static int
s_tail_loop (void *socket, const s_tail_options_t *options)
{
    int64_t left = options->count;
    int64_t last_ms = sq_clock_ms ();
    while (left > 0 && !s_stop) {
        long wait_ms = CLI_TAIL_POLL_MS;
        if (options->timeout_ms >= 0) {
            int64_t quiet_left_ms = last_ms + options->timeout_ms - sq_clock_ms ();
            if (quiet_left_ms <= 0) break;
            wait_ms = quiet_left_ms < wait_ms ? (long) quiet_left_ms : wait_ms;
        }
        zmq_pollitem_t item = {socket, 0, ZMQ_POLLIN, 0};
        int rc = zmq_poll (&item, 1, wait_ms);
        if (rc == -1 && errno == EINTR) continue;
        if (rc == -1) {
            fprintf (stderr, "shequ: could not wait for events: %s\n", zmq_strerror (errno));
            return CLI_EXIT_TRANSPORT;
        }
        if (rc == 0) continue;
        last_ms = sq_clock_ms ();
        if (s_tail_drain (socket, &left)) return CLI_EXIT_TRANSPORT;
    }
    return CLI_EXIT_OK;
}

int
cli_tail (int argc, char **argv)
{
    s_tail_options_t options;
    if (s_tail_options (argc, argv, &options)) return CLI_EXIT_USAGE;
    if (s_tail_signals ()) return CLI_EXIT_TRANSPORT;
    const char *endpoint = sq_config_str (SQ_ENV_EVENTS_OUT, SQ_DEFAULT_EVENTS_OUT);
    void *socket = s_tail_socket (endpoint, options.prefix);
    if (!socket) return CLI_EXIT_TRANSPORT;
    int rc = s_tail_loop (socket, &options);
    zmq_close (socket);
    return rc;
}
