/* serve_routing.c — builds the router from the loaded bot (serve_routing.h).
 * The bot loader only accepts bot.yml's `routing:` key; its contents are read
 * here through router/config.c, so neither the bot module nor the router
 * depends on the other, and checked against the bot's skills. */
#include "cli/serve_routing.h"

#include <stdio.h>

#include "http/routes_agents_ws.h"
#include "http/routes_desk.h"
#include "http/routes_routing.h"
#include "obs/log.h"

static const char *bot_skill(void *ud, const char *intent) { return kf_bot_skill(ud, intent); }

kf_routing_t *kf_serve_routing_start(const kf_bot_t *bot, const char *bot_dir, char *err, size_t errlen) {
    const char *skills[KF_ROUTING_MAX_SKILLS], *langs[KF_ROUTING_MAX_LANGS];
    size_t ns = kf_bot_n_skills(bot), nl = kf_bot_n_languages(bot);
    if (ns > KF_ROUTING_MAX_SKILLS || nl > KF_ROUTING_MAX_LANGS) {
        snprintf(err, errlen, "routing supports at most %d skills and %d languages", KF_ROUTING_MAX_SKILLS,
                 KF_ROUTING_MAX_LANGS);
        return NULL;
    }
    for (size_t i = 0; i < ns; i++) skills[i] = kf_bot_skill_at(bot, i);
    for (size_t i = 0; i < nl; i++) langs[i] = kf_bot_language(bot, i);
    kf_routing_config_t cfg;
    char path[4096];
    kf_routing_config_default(&cfg);
    snprintf(path, sizeof path, "%s/bot.yml", bot_dir);
    if (kf_routing_config_load(path, &cfg, err, errlen) < 0 || kf_routing_config_check(&cfg, skills, ns, err, errlen) < 0)
        return NULL;
    kf_routing_t *r = kf_routing_new(&cfg, skills, ns, langs, nl);
    if (!r || kf_routes_routing_register(r, bot_skill, (void *)bot) < 0) {
        kf_routing_free(r);
        snprintf(err, errlen, "routing: start-up failed");
        return NULL;
    }
    kf_log(KF_LOG_INFO, "routing ready", "rules", 'i', (long long)cfg.n_rules, "skills", 'i', (long long)ns, NULL);
    return r;
}

kf_desk_t *kf_serve_desk_start(const kf_bot_t *bot, kf_conv_t *conv, kf_routing_t *routing, kf_agent_auth_t *auth,
                               char *err, size_t errlen) {
    kf_desk_config_t dc = {.conv = conv, .routing = routing, .auth = auth, .bot = bot};
    kf_desk_t *d = kf_desk_new(&dc, err, errlen);
    if (!d) return NULL;
    if (kf_routes_desk_register(d) < 0 || kf_routes_agents_ws_register(d, conv, auth) < 0) {
        kf_desk_free(d);
        snprintf(err, errlen, "agent desk: routes failed to register");
        return NULL;
    }
    kf_desk_register_metrics(d);
    return d;
}
