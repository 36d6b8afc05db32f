// SPDX-License-Identifier: GPL-2.0
/* Module parameters, the live configuration snapshot and its changes. */
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include "smtpblock/audit.h"
#include "smtpblock/config.h"
#include "smtpblock/exemptions.h"
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

/* Serialises every publication of a new snapshot. */
static DEFINE_MUTEX(sb_config_mutex);

/*
 * Serialises the changes of the lists, from the build of a new set to its
 * publication, so that two changes cannot both start from one list and
 * lose one. Taken before sb_config_mutex: building a set of millions of
 * entries does not hold up a change of a setting.
 */
static DEFINE_MUTEX(sb_lists_mutex);

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
 * A set's references: one from the live snapshots while it is in them
 * (the snapshots that share it share that one), and one per reader of
 * the list file that holds it (snapshot.h). Readers take theirs under
 * RCU from the live snapshot, and the snapshots' reference is dropped
 * only a grace period after the set left them, so a reader's never
 * starts from zero; whoever drops the last frees the set. No writer
 * waits for a reader, and no reader for a writer.
 */
static void set_adopt(struct sb_prefix_set *set)
{
	refcount_set(&set->users.refs, 1);
}

static void set_put(struct sb_prefix_set *set)
{
	if (set && refcount_dec_and_test(&set->users.refs))
		sb_set_free(set);
}

/*
 * Makes @next live. Once no packet can still see the old snapshot, frees
 * it and drops the reference to @retired, the one set that @next no
 * longer shares with it.
 */
static void config_publish(struct sb_config *next,
			   struct sb_prefix_set *retired)
{
	struct sb_config *prev;

	prev = rcu_replace_pointer(sb_live_config, next,
				   lockdep_is_held(&sb_config_mutex));
	synchronize_rcu();
	set_put(retired);
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

/* The audit line's value= of setting @id in @cfg: one word. */
static void audit_setting(enum sb_setting_id id, const struct sb_config *cfg)
{
	char value[SB_MAX_PORTS * 6 + 1] = "";
	int len = 0;
	u16 i;

	switch (id) {
	case SB_SETTING_ENABLED:
		snprintf(value, sizeof(value), "%d", cfg->enabled);
		break;
	case SB_SETTING_MODE:
		strscpy(value, sb_mode_name(cfg->mode), sizeof(value));
		break;
	case SB_SETTING_PORTS:
		for (i = 0; i < cfg->ports.n; i++)
			len += scnprintf(value + len, sizeof(value) - len,
					 "%s%u", i ? "," : "",
					 cfg->ports.port[i]);
		break;
	}
	sb_audit_value(settings[id].name, value);
}

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
		audit_setting(id, next);
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
 * sb_config_swap_exemptions - makes @t (NULL: none) the live exemptions
 *
 * For exemptions.c, which serialises its changes itself. Returns the
 * table that was live, which no packet sees any more: the caller owns
 * the snapshots' reference to it. ERR_PTR(-ENOMEM) if nothing changed.
 */
struct sb_exempt_table *sb_config_swap_exemptions(struct sb_exempt_table *t)
{
	struct sb_config *next;

	mutex_lock(&sb_config_mutex);
	next = config_copy();
	if (next) {
		swap(next->exempt, t);
		config_publish(next, NULL);
	}
	mutex_unlock(&sb_config_mutex);
	return next ? t : ERR_PTR(-ENOMEM);
}

/*
 * The live list @which: only list changes replace it, under
 * sb_lists_mutex, so the set stays while that is held; the snapshot that
 * holds it may be replaced (and freed) by a change of a setting
 * meanwhile, hence RCU around reading it.
 */
static struct sb_prefix_set *live_list(enum sb_list which)
{
	struct sb_prefix_set *set;

	lockdep_assert_held(&sb_lists_mutex);
	rcu_read_lock();
	set = *list_slot(rcu_dereference(sb_live_config), which);
	rcu_read_unlock();
	return set;
}

/* Makes @set (new, unshared) the live list @which: -ENOMEM, or 0. */
static int publish_list_locked(enum sb_list which, struct sb_prefix_set *set)
{
	struct sb_config *next;

	lockdep_assert_held(&sb_lists_mutex);
	mutex_lock(&sb_config_mutex);
	next = config_copy();
	if (next) {
		set_adopt(set);
		swap(*list_slot(next, which), set);
		config_publish(next, set);
	}
	mutex_unlock(&sb_config_mutex);
	return next ? 0 : -ENOMEM;
}

/*
 * sb_config_write_list - apply one write to the campus or relays list
 *
 * All of the write or nothing: parse, build the new set against the live
 * one, then publish. @later: not the first write through its open file.
 */
int sb_config_write_list(enum sb_list which, const char *buf, size_t len,
			 bool later)
{
	struct sb_list_write w;
	struct sb_parse_err perr;
	struct sb_prefix_set *set;
	u32 bad_pos = 0;
	int err;

	err = sb_list_parse(buf, len, &w, &perr);
	if (err) {
		log_parse_error(list_names[which], err, &perr);
		return err;
	}
	mutex_lock(&sb_lists_mutex);
	err = sb_set_build(w.replace ? NULL : live_list(which), w.edits, w.n,
			   &set, &bad_pos);
	if (err) {
		memset(&perr, 0, sizeof(perr));
		find_token(buf, len, bad_pos, &perr);
		log_parse_error(list_names[which], err, &perr);
		goto out;
	}
	err = publish_list_locked(which, set);
	if (err) {
		sb_set_free(set);
		pr_warn("%s: out of memory, nothing changed\n", list_names[which]);
		goto out;
	}
	sb_audit_entries(list_names[which], sb_set_count(set), NULL);
	/* "while read p; do echo $p; done > campus" keeps only the last. */
	if (later && w.replace && !w.flush)
		pr_warn("%s: a write after others through the same open file replaced the whole list (each write() is applied alone)\n",
			list_names[which]);
out:
	mutex_unlock(&sb_lists_mutex);
	sb_list_write_free(&w);
	return err;
}

/* Makes @set the live list @which (a bulk load); drops the old one. */
int sb_config_replace_list(enum sb_list which, struct sb_prefix_set *set)
{
	int err;

	u32 entries = sb_set_count(set);

	mutex_lock(&sb_lists_mutex);
	err = publish_list_locked(which, set);
	if (!err)
		sb_audit_entries(list_names[which], entries, "bulk");
	mutex_unlock(&sb_lists_mutex);
	return err;
}

/* Bytes of the live lookup structures: the snapshot and its sets. */
size_t sb_config_memory(void)
{
	const struct sb_config *cfg;
	size_t bytes;

	rcu_read_lock();
	cfg = rcu_dereference(sb_live_config);
	bytes = sizeof(*cfg) + sb_set_bytes(cfg->campus) +
		sb_set_bytes(cfg->relays) + sb_exempt_bytes(cfg->exempt);
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

/*
 * Reading a list: each reader holds the set it began with and reads its
 * text straight from it, a page at a time (sb_set_read). No lock a
 * writer takes, no copy of the list, no render: whoever reads and
 * however often, the kernel formats only the pages asked for.
 */
static void *take_list(void *arg)
{
	enum sb_list which = (uintptr_t)arg;
	struct sb_prefix_set *set;

	rcu_read_lock();
	set = *list_slot(rcu_dereference(sb_live_config), which);
	refcount_inc(&set->users.refs);	/* see set_adopt() */
	rcu_read_unlock();
	return set;
}

static ssize_t read_list(const void *held, char *buf, loff_t off,
			 size_t count)
{
	const struct sb_prefix_set *set = held;

	/* (before narrowing to size_t, which is 32 bits on 32-bit kernels) */
	if (off < 0 || off >= set->text_len)
		return 0;
	return sb_set_read(set, (size_t)off, buf, count);
}

static void drop_list(void *held)
{
	set_put(held);
}

static const struct sb_snapshot_ops list_ops = {
	.take = take_list,
	.read = read_list,
	.drop = drop_list,
};

static struct sb_snapshot list_readers[] = {
	[SB_LIST_CAMPUS] = SB_SNAPSHOT_INIT(list_readers[SB_LIST_CAMPUS],
					    &list_ops,
					    (void *)(uintptr_t)SB_LIST_CAMPUS,
					    SB_SNAPSHOT_READERS),
	[SB_LIST_RELAYS] = SB_SNAPSHOT_INIT(list_readers[SB_LIST_RELAYS],
					    &list_ops,
					    (void *)(uintptr_t)SB_LIST_RELAYS,
					    SB_SNAPSHOT_READERS),
};

ssize_t sb_config_read_list(enum sb_list which, const struct file *file,
			    char *buf, loff_t off, size_t count)
{
	return sb_snapshot_read(&list_readers[which], file, buf, off, count);
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
		set_adopt(*list_slot(cfg, i));
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
	sb_snapshot_free(&list_readers[SB_LIST_CAMPUS]);
	sb_snapshot_free(&list_readers[SB_LIST_RELAYS]);
	set_put(cfg->campus);
	set_put(cfg->relays);
	sb_exemptions_put(cfg->exempt);
	kfree(cfg);
}
