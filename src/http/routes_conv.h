/* routes_conv.h — the conversation REST API over the conversation engine
 * (engine/conv.h): start a conversation, send a message and get the bot's
 * replies, read the transcript, close with a rating, list conversations
 * (admin). */
#ifndef KF_HTTP_ROUTES_CONV_H
#define KF_HTTP_ROUTES_CONV_H

#include "engine/conv.h"

/* conv must outlive the server.  Returns 0, or -1 (bad schema, no memory). */
int kf_routes_conv_register(kf_conv_t *conv);

#endif
