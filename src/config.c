// SPDX-License-Identifier: GPL-2.0
/* Module parameters, the live configuration snapshot and its changes. */
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/rwsem.h>
#include <linux/slab.h>
#include "smtpblock/config.h"
#include "smtpblock/snapshot.h"

static char *campus;
module_param(campus, charp, 0);
MODULE_PARM_DESC(campus, "Campus prefixes, IPv4/IPv6, comma or space separated (default: none, nothing is blocked)");

static char *relays;
module_param(relays, charp, 0);
MODULE_PARM_DESC(relays, "Sanctioned mail relays and smarthosts, addresses or prefixes (default: none)");

static char *ports = "25";
module_param(ports, charp, 0);
MODULE_PARM_DESC(ports, "Watched destination ports, at most 16 (default: 25)");

static char *mode = "drop";
module_param(mode, charp, 0);
MODULE_PARM_DESC(mode, "Action on a blocked SYN: drop, reject (TCP RST) or monitor (count only) (default: drop)");

static char *enabled = "1";
module_param(enabled, charp, 0);
MODULE_PARM_DESC(enabled, "1 to filter, 0 to accept everything and count nothing (default: 1)");

struct sb_config __rcu *sb_live_config;

/* Serialises every change. */
static DEFINE_MUTEX(sb_config_mutex);

/*
 * Keeps retired sets alive while a reader renders one (which sleeps, so
 * RCU alone cannot): readers share it, and only freeing a set excludes
 * them. Readers never hold up changes, only the freeing of what they read.
 */
static DECLARE_RWSEM(sb_sets_rwsem);

static const char *const list_names[] = {
	[SB_LIST_CAMPUS] = "campus",
	[SB_LIST_RELAYS] = "relays",
};

/*
 * The one log line of a rejected write. Not rate-limited: the contract is
 * one line per failed write, and only CAP_NET_ADMIN can cause them.
 */
static void log_parse_error(const char *what, int err,
			    const struct sb_parse_err *perr)
{
	/* %*pE escapes what an operator wrote, so it cannot forge lines. */
	if (err == -ENOMEM)
		pr_warn("%s: out of memory\n", what);
	else if (err == -ENOSPC)
		pr_warn("%s: more than %u entries of one family\n", what,
			SB_SET_MAX_ENTRIES);
	else if (!perr->pos)
		pr_warn("%s: empty write, nothing changed\n", what);
	else if (err == -ENOENT)
		pr_warn("%s: item %u '%*pE' is not in the list\n", what,
			perr->pos, (int)perr->tok_len, perr->tok);
	else
		pr_warn("%s: invalid item %u '%*pE'\n", what, perr->pos,
			(int)perr->tok_len, perr->tok);
}

static struct sb_config *live_config(void)
{
	return rcu_dereference_protected(sb_live_config,
					 lockdep_is_held(&sb_config_mutex));
}

/* A private copy of the live snapshot to change; it shares the sets. */
static struct sb_config *config_copy(void)
{
	return kmemdup(live_config(), sizeof(struct sb_config), GFP_KERNEL);
}

/*
 * Makes @next live. Once no packet can still see the old snapshot, frees
 * it and @retired, the one set that @next no longer shares with it.
 */
static void config_publish(struct sb_config *next,
			   struct sb_prefix_set *retired)
{
	struct sb_config *prev;

	prev = rcu_replace_pointer(sb_live_config, next,
				   lockdep_is_held(&sb_config_mutex));
	synchronize_rcu();
	if (retired) {
		down_write(&sb_sets_rwsem);
		sb_set_free(retired);
		up_write(&sb_sets_rwsem);
	}
	kfree(prev);
}

/* A parsed value of one setting. */
union sb_setting {
	bool enabled;
	enum sb_mode mode;
	struct sb_ports ports;
};

static int parse_enabled(const char *buf, size_t len, union sb_setting *v,
			 struct sb_parse_err *perr)
{
	return sb_bool_parse(buf, len, &v->enabled, perr);
}

static void apply_enabled(struct sb_config *cfg, const union sb_setting *v)
{
	cfg->enabled = v->enabled;
}

static int parse_mode(const char *buf, size_t len, union sb_setting *v,
		      struct sb_parse_err *perr)
{
	return sb_mode_parse(buf, len, &v->mode, perr);
}

static void apply_mode(struct sb_config *cfg, const union sb_setting *v)
{
	cfg->mode = v->mode;
}

static int parse_ports(const char *buf, size_t len, union sb_setting *v,
		       struct sb_parse_err *perr)
{
	return sb_ports_parse(buf, len, &v->ports, perr);
}

static void apply_ports(struct sb_config *cfg, const union sb_setting *v)
{
	cfg->ports = v->ports;
	sb_port_map_fill(&cfg->port_map, &v->ports);
}

static const struct {
	const char *name;
	int (*parse)(const char *buf, size_t len, union sb_setting *v,
		     struct sb_parse_err *perr);
	void (*apply)(struct sb_config *cfg, const union sb_setting *v);
} settings[] = {
	[SB_SETTING_ENABLED] = { "enabled", parse_enabled, apply_enabled },
	[SB_SETTING_MODE] = { "mode", parse_mode, apply_mode },
	[SB_SETTING_PORTS] = { "ports", parse_ports, apply_ports },
};

/* Parses a write to a setting, then publishes a changed copy. */
int sb_config_set(enum sb_setting_id id, const char *buf, size_t len)
{
	struct sb_parse_err perr;
	struct sb_config *next;
	union sb_setting v;
	int err = settings[id].parse(buf, len, &v, &perr);

	if (err) {
		log_parse_error(settings[id].name, err, &perr);
		return err;
	}
	mutex_lock(&sb_config_mutex);
	next = config_copy();
	if (next) {
		settings[id].apply(next, &v);
		config_publish(next, NULL);
	}
	mutex_unlock(&sb_config_mutex);
	if (!next) {
		pr_warn("%s: out of memory, nothing changed\n", settings[id].name);
		return -ENOMEM;
	}
	return 0;
}

static struct sb_prefix_set **list_slot(struct sb_config *cfg,
					enum sb_list which)
{
	return which == SB_LIST_CAMPUS ? &cfg->campus : &cfg->relays;
}

/* Names the token at @pos of @buf for the log line of a failed edit. */
static void find_token(const char *buf, size_t len, u32 pos,
		       struct sb_parse_err *perr)
{
	struct sb_tokenizer t;
	struct sb_token tok;

	sb_tokenizer_init(&t, buf, len);
	while (sb_token_next(&t, &tok, perr) > 0) {
		if (tok.pos == pos) {
			perr->pos = pos;
			perr->tok = tok.s;
			perr->tok_len = tok.len;
			return;
		}
	}
}

/*
 * sb_config_write_list - apply one write to the campus or relays list
 *
 * All of the write or nothing: parse, build the new set against the live
 * one, then publish, with the mutex held from the build on so that two
 * edits cannot both start from the same list and lose one. @later: not
 * the first write through its open file.
 */
int sb_config_write_list(enum sb_list which, const char *buf, size_t len,
			 bool later)
{
	struct sb_prefix_set *set, **slot;
	struct sb_list_write w;
	struct sb_parse_err perr;
	struct sb_config *next;
	u32 bad_pos = 0;
	int err;

	err = sb_list_parse(buf, len, &w, &perr);
	if (err) {
		log_parse_error(list_names[which], err, &perr);
		return err;
	}
	mutex_lock(&sb_config_mutex);
	next = config_copy();
	if (!next) {
		pr_warn("%s: out of memory, nothing changed\n", list_names[which]);
		err = -ENOMEM;
		goto out;
	}
	slot = list_slot(next, which);
	err = sb_set_build(w.replace ? NULL : *slot, w.edits, w.n, &set,
			   &bad_pos);
	if (err) {
		kfree(next);
		memset(&perr, 0, sizeof(perr));
		find_token(buf, len, bad_pos, &perr);
		log_parse_error(list_names[which], err, &perr);
		goto out;
	}
	swap(*slot, set);
	config_publish(next, set);
	/* "while read p; do echo $p; done > campus" keeps only the last. */
	if (later && w.replace && !w.flush)
		pr_warn("%s: a write after others through the same open file replaced the whole list (each write() is applied alone)\n",
			list_names[which]);
out:
	mutex_unlock(&sb_config_mutex);
	sb_list_write_free(&w);
	return err;
}

/* Makes @set the live list @which (a bulk load); frees the old one. */
int sb_config_replace_list(enum sb_list which, struct sb_prefix_set *set)
{
	struct sb_config *next;

	mutex_lock(&sb_config_mutex);
	next = config_copy();
	if (next) {
		swap(*list_slot(next, which), set);
		config_publish(next, set);
	}
	mutex_unlock(&sb_config_mutex);
	return next ? 0 : -ENOMEM;
}

/* Bytes of the live lookup structures: the snapshot and its sets. */
size_t sb_config_memory(void)
{
	const struct sb_config *cfg;
	size_t bytes;

	rcu_read_lock();
	cfg = rcu_dereference(sb_live_config);
	bytes = sizeof(*cfg) + sb_set_bytes(cfg->campus) +
		sb_set_bytes(cfg->relays);
	rcu_read_unlock();
	return bytes;
}

u32 sb_config_list_count(enum sb_list which)
{
	u32 n;

	rcu_read_lock();
	n = sb_set_count(*list_slot(rcu_dereference(sb_live_config), which));
	rcu_read_unlock();
	return n;
}

const char *sb_list_name(enum sb_list which)
{
	return list_names[which];
}

static struct sb_snapshot list_text[] = {
	[SB_LIST_CAMPUS] = SB_SNAPSHOT_INIT(list_text[SB_LIST_CAMPUS]),
	[SB_LIST_RELAYS] = SB_SNAPSHOT_INIT(list_text[SB_LIST_RELAYS]),
};

/* Without sb_config_mutex: a reader, however slow, never blocks a change. */
static int render_list(void *arg, char **text, size_t *len)
{
	enum sb_list which = (uintptr_t)arg;
	struct sb_prefix_set *set;
	int err;

	down_read(&sb_sets_rwsem);
	rcu_read_lock();
	set = *list_slot(rcu_dereference(sb_live_config), which);
	rcu_read_unlock();
	err = sb_set_render(set, text, len);
	up_read(&sb_sets_rwsem);
	return err;
}

ssize_t sb_config_read_list(enum sb_list which, const struct file *file,
			    char *buf, loff_t off, size_t count)
{
	return sb_snapshot_read(&list_text[which], file, buf, off, count,
				render_list, (void *)(uintptr_t)which);
}

static void log_param_error(const char *name, const char *value,
			    const struct sb_parse_err *perr)
{
	if (perr->pos)
		pr_err("invalid parameter %s='%s': item %u '%*pE'\n", name,
		       value, perr->pos, (int)perr->tok_len, perr->tok);
	else
		pr_err("invalid parameter %s='%s'\n", name, value);
}

/*
 * A list parameter holds plain prefixes only: "+p" edits and "flush" mean
 * nothing at load (the list starts empty), and a "flush" that an operator
 * wrote there would make an empty campus list, which blocks nothing.
 */
static int list_from_param(const char *name, const char *text,
			   struct sb_prefix_set **set)
{
	struct sb_parse_err perr = {};
	struct sb_list_write w;
	u32 bad_pos;
	int err;

	if (!text)
		return sb_set_build(NULL, NULL, 0, set, &bad_pos);
	err = sb_list_parse(text, strlen(text), &w, &perr);
	if (!err && (w.flush || !w.replace)) {
		perr.pos = 0;
		err = -EINVAL;
	}
	if (!err)
		err = sb_set_build(NULL, w.edits, w.n, set, &bad_pos);
	sb_list_write_free(&w);
	if (err == -EINVAL)
		log_param_error(name, text, &perr);
	return err;
}

/* Parses the module parameters into the first snapshot; all or nothing. */
static int config_from_params(struct sb_config *cfg)
{
	const char *const list_text[] = { campus, relays };
	struct sb_parse_err perr = {};
	int i, err;

	err = sb_bool_parse(enabled, strlen(enabled), &cfg->enabled, &perr);
	if (err) {
		log_param_error("enabled", enabled, &perr);
		return err;
	}
	err = sb_mode_parse(mode, strlen(mode), &cfg->mode, &perr);
	if (err) {
		log_param_error("mode", mode, &perr);
		return err;
	}
	err = sb_ports_parse(ports, strlen(ports), &cfg->ports, &perr);
	if (err) {
		log_param_error("ports", ports, &perr);
		return err;
	}
	sb_port_map_fill(&cfg->port_map, &cfg->ports);

	for (i = 0; i < 2; i++) {
		err = list_from_param(list_names[i], list_text[i],
				      list_slot(cfg, i));
		if (err)
			return err;
	}
	return 0;
}

int sb_config_init(void)
{
	struct sb_config *cfg = kzalloc(sizeof(*cfg), GFP_KERNEL);
	int err;

	if (!cfg)
		return -ENOMEM;
	err = config_from_params(cfg);
	if (err) {
		sb_set_free(cfg->campus);
		sb_set_free(cfg->relays);
		kfree(cfg);
		return err;
	}
	rcu_assign_pointer(sb_live_config, cfg);
	return 0;
}

/* After the hooks are gone: nothing can read the snapshot any more. */
void sb_config_uninit(void)
{
	struct sb_config *cfg = rcu_dereference_protected(sb_live_config, 1);

	RCU_INIT_POINTER(sb_live_config, NULL);
	sb_snapshot_free(&list_text[SB_LIST_CAMPUS]);
	sb_snapshot_free(&list_text[SB_LIST_RELAYS]);
	sb_set_free(cfg->campus);
	sb_set_free(cfg->relays);
	kfree(cfg);
}
