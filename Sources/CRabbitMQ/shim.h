#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>

// amqp_login is variadic, and replies, frames and properties are unions and
// flag macros: these small helpers keep them on the C side.

/// PLAIN login; returns the reply type (AMQP_RESPONSE_NORMAL when it worked).
static inline int cimgproc_amqp_login(amqp_connection_state_t state, const char *vhost,
                                      const char *user, const char *password, int heartbeat) {
    amqp_rpc_reply_t r = amqp_login(state, vhost, 0, 131072, heartbeat, AMQP_SASL_METHOD_PLAIN, user, password);
    return r.reply_type;
}

/// The reply of the last RPC on a connection: 0 when normal, else a description in `out`.
static inline int cimgproc_amqp_last_error(amqp_connection_state_t state, char *out, size_t size) {
    amqp_rpc_reply_t r = amqp_get_rpc_reply(state);
    switch (r.reply_type) {
    case AMQP_RESPONSE_NORMAL:
        return 0;
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
        snprintf(out, size, "%s", amqp_error_string2(r.library_error));
        return 1;
    case AMQP_RESPONSE_SERVER_EXCEPTION:
        if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
            amqp_connection_close_t *m = (amqp_connection_close_t *)r.reply.decoded;
            snprintf(out, size, "server closed the connection: %u %.*s", m->reply_code,
                     (int)m->reply_text.len, (char *)m->reply_text.bytes);
        } else if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
            amqp_channel_close_t *m = (amqp_channel_close_t *)r.reply.decoded;
            snprintf(out, size, "server closed the channel: %u %.*s", m->reply_code,
                     (int)m->reply_text.len, (char *)m->reply_text.bytes);
        } else {
            snprintf(out, size, "server error (method 0x%08X)", r.reply.id);
        }
        return 2;
    default:
        snprintf(out, size, "no reply");
        return 3;
    }
}

/// Publishes a persistent JSON message. Returns an amqp status (0 when sent).
static inline int cimgproc_amqp_publish(amqp_connection_state_t state, amqp_channel_t channel,
                                        const char *exchange, const char *routing_key,
                                        const void *body, size_t length) {
    amqp_basic_properties_t props;
    memset(&props, 0, sizeof props);
    props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
    props.content_type = amqp_cstring_bytes("application/json");
    props.delivery_mode = 2; // persistent
    amqp_bytes_t bytes = { length, (void *)body };
    return amqp_basic_publish(state, channel, amqp_cstring_bytes(exchange), amqp_cstring_bytes(routing_key),
                              1, 0, &props, bytes);
}

/// Waits up to `timeout_ms` for the broker to confirm the last publish:
/// 1 acked, 0 nacked or returned, -1 timeout or error.
static inline int cimgproc_amqp_wait_confirm(amqp_connection_state_t state, int timeout_ms) {
    struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
    for (;;) {
        amqp_frame_t frame;
        int rc = amqp_simple_wait_frame_noblock(state, &frame, &tv);
        if (rc != AMQP_STATUS_OK) return -1;
        if (frame.frame_type != AMQP_FRAME_METHOD) continue;
        if (frame.payload.method.id == AMQP_BASIC_ACK_METHOD) return 1;
        if (frame.payload.method.id == AMQP_BASIC_NACK_METHOD) return 0;
        if (frame.payload.method.id == AMQP_BASIC_RETURN_METHOD) {
            // An unroutable message comes back with its content before the ack; skip it.
            amqp_message_t message;
            amqp_read_message(state, frame.channel, &message, 0);
            amqp_destroy_message(&message);
            continue;
        }
        if (frame.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD ||
            frame.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD) return -1;
    }
}

/// Waits up to `timeout_ms` for a delivery. Returns 1 with the envelope
/// filled (destroy it after use), 0 on timeout, -1 when the connection failed.
static inline int cimgproc_amqp_consume(amqp_connection_state_t state, amqp_envelope_t *envelope, int timeout_ms) {
    struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
    amqp_maybe_release_buffers(state);
    amqp_rpc_reply_t r = amqp_consume_message(state, envelope, &tv, 0);
    if (r.reply_type == AMQP_RESPONSE_NORMAL) return 1;
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_TIMEOUT) return 0;
    return -1;
}

static inline amqp_bytes_t cimgproc_amqp_bytes(const char *s) { return amqp_cstring_bytes(s); }
static inline amqp_table_t cimgproc_amqp_empty_table(void) { return amqp_empty_table; }
