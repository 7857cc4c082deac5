/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * The governance scripts run by Redis (Lua 5.1) and their SHA1 for
 * EVALSHA.  Money is integer nano-USD; Lua numbers are doubles, exact up
 * to 2^53, and every integer goes back to Redis through I() ("%d"), never
 * through Lua's own number-to-text ("%.14g" would turn 1.5e15 into
 * "1.5e+15").  Rate limits are GCRA in microseconds (doubles are fine
 * there: a microsecond more or less of a theoretical arrival time).
 *
 * KEYS of admit and settle (all under the project's hash tag {p:P}):
 *   1 req:RID  2 ratelimit  3 rl:key:ID  4 rl:project
 *   5-7 budget/resv/amt of the key, 8-10 of the project, 11-13 of the team
 * ARGV: 1 now_ms 2 day 3 month 4 cost_nano 5 tokens 6 key_rpm 7 key_tpm
 *   8 hold_ms 9 has_team 10 keep_ms 11 request id 12 estimated tokens
 */
#include <pthread.h>
#include <stdio.h>

#include "crypto.h"
#include "govern.h"

/* Shared by every script: helpers, and the loading of a budget. */
#define LUA_PRELUDE \
"local now, day, month\n" \
"local W, EPS = 60000000, 10\n" \
"local function I(n) return string.format('%d', n) end\n" \
"local function usd(n)\n" \
"  local s = ''\n" \
"  if n < 0 then s = '-' n = -n end\n" \
"  local u = math.floor(n / 1000000000)\n" \
"  local f = n - u * 1000000000\n" \
"  s = s .. I(u)\n" \
"  if f > 0 then\n" \
"    s = s .. '.' .. (string.gsub(string.format('%09d', f), '0+$', ''))\n" \
"  end\n" \
"  return s\n" \
"end\n" \
/* A budget, its period rolled and its expired reservations freed; nil if none. */ \
"local function bload(i, h, z, a)\n" \
"  local v = redis.call('HMGET', h, 'limit_nano', 'spent_nano',\n" \
"    'reserved_nano', 'period', 'period_start', 'warn_nano', 'warned',\n" \
"    'on_redis_down')\n" \
"  if not v[1] then return nil end\n" \
"  local b = {i = i, h = h, z = z, a = a, limit = tonumber(v[1]),\n" \
"    spent = tonumber(v[2]) or 0, reserved = tonumber(v[3]) or 0,\n" \
"    period = v[4], start = v[5] or '', warn = tonumber(v[6]) or 0,\n" \
"    warned = v[7] or '0', open = v[8] == 'open'}\n" \
"  local cur\n" \
"  if b.period == 'day' then cur = day elseif b.period == 'month' then cur = month end\n" \
/* Forward only: a late settlement or a clock behind charges the current period. */ \
"  if cur and cur > b.start then b.spent = 0 b.start = cur b.warned = '0' end\n" \
"  local ids = redis.call('ZRANGEBYSCORE', z, '-inf', I(now), 'LIMIT', 0, 256)\n" \
"  for _, id in ipairs(ids) do\n" \
"    b.reserved = b.reserved - (tonumber(redis.call('HGET', a, id)) or 0)\n" \
"    redis.call('HDEL', a, id)\n" \
"    redis.call('ZREM', z, id)\n" \
"  end\n" \
"  if b.reserved < 0 then b.reserved = 0 end\n" \
"  return b\n" \
"end\n" \
"local function bsave(b)\n" \
"  redis.call('HSET', b.h, 'spent_nano', I(b.spent), 'reserved_nano',\n" \
"    I(b.reserved), 'period_start', b.start, 'warned', b.warned,\n" \
"    'limit_usd', usd(b.limit), 'spent_usd', usd(b.spent),\n" \
"    'reserved_usd', usd(b.reserved),\n" \
"    'remaining_usd', usd(b.limit - b.spent - b.reserved))\n" \
"end\n" \
/* The budgets of a request: key, project and (ARGV[9]) team. */ \
"local function budgets()\n" \
"  local bs, n = {}, 2\n" \
"  if ARGV[9] == '1' then n = 3 end\n" \
"  for i = 1, n do\n" \
"    local b = bload(i, KEYS[2 + 3 * i], KEYS[3 + 3 * i], KEYS[4 + 3 * i])\n" \
"    if b then bs[#bs + 1] = b end\n" \
"  end\n" \
"  return bs\n" \
"end\n" \
/* 1 if any budget, the least remaining and its limit. */ \
"local function least(bs)\n" \
"  local has, rem, lim = 0, 0, 0\n" \
"  for _, b in ipairs(bs) do\n" \
"    local r = b.limit - b.spent - b.reserved\n" \
"    if has == 0 or r < rem then rem = r lim = b.limit end\n" \
"    has = 1\n" \
"  end\n" \
"  return has, rem, lim\n" \
"end\n" \
/* Before this request: any budget past its warn_nano; every budget open. */ \
"local function marks(bs)\n" \
"  local warn, open = 0, 0\n" \
"  if #bs > 0 then open = 1 end\n" \
"  for _, b in ipairs(bs) do\n" \
"    if b.warn > 0 and b.spent + b.reserved >= b.warn then warn = 1 end\n" \
"    if not b.open then open = 0 end\n" \
"  end\n" \
"  return warn, open\n" \
"end\n" \
/* Keep a rate-limit hash at least ms longer. */ \
"local function touch(h, ms)\n" \
"  if redis.call('PTTL', h) < ms then redis.call('PEXPIRE', h, I(ms)) end\n" \
"end\n" \
"local function tat_put(h, f, tat)\n" \
"  redis.call('HSET', h, f, string.format('%.17g', tat))\n" \
"  touch(h, math.ceil((tat - now * 1000) / 1000) + 1000)\n" \
"end\n"

/*
 * Admission.  Reply: verdict (0 allow, 1 budget, 2 rate, 3 duplicate),
 * scope (0 key, 1 project, 2 team), has_budget, remaining_nano,
 * limit_nano, retry_after_ms (-1 never), rate_tokens, then limit,
 * remaining and reset_ms of requests and of tokens, then warn (a budget
 * at or past its warning threshold) and fail_open (budgets apply and all
 * say on_redis_down open).  The last two were added later; the decoder
 * takes a reply without them too.
 */
static const char admit_script[] = LUA_PRELUDE
"now, day, month = tonumber(ARGV[1]), ARGV[2], ARGV[3]\n"
"local cost, toks = tonumber(ARGV[4]), tonumber(ARGV[5])\n"
"local hold, keep, rid = tonumber(ARGV[8]), tonumber(ARGV[10]), ARGV[11]\n"
"local bs = budgets()\n"
"local has, rem, lim = least(bs)\n"
"local warn, open = marks(bs)\n"
"local function done(r)\n"
"  for _, b in ipairs(bs) do bsave(b) end\n"
"  r[#r + 1] = warn\n"
"  r[#r + 1] = open\n"
"  return r\n"
"end\n"
"if redis.call('EXISTS', KEYS[1]) == 1 then\n"
"  return done({3, 0, has, rem, lim, 0, 0, 0, 0, 0, 0, 0, 0})\n"
"end\n"
"for _, b in ipairs(bs) do\n"
"  local r = b.limit - b.spent - b.reserved\n"
"  if cost > r then\n"
"    return done({1, b.i - 1, 1, r, b.limit, 0, 0, 0, 0, 0, 0, 0, 0})\n"
"  end\n"
"end\n"
"local nowu = now * 1000\n"
"local pl = redis.call('HMGET', KEYS[2], 'rpm', 'tpm')\n"
"local ls = {\n"
"  {h = KEYS[3], f = 'req', lim = tonumber(ARGV[6]) or 0, n = 1, tok = 0, sc = 0},\n"
"  {h = KEYS[3], f = 'tok', lim = tonumber(ARGV[7]) or 0, n = toks, tok = 1, sc = 0},\n"
"  {h = KEYS[4], f = 'req', lim = tonumber(pl[1]) or 0, n = 1, tok = 0, sc = 1},\n"
"  {h = KEYS[4], f = 'tok', lim = tonumber(pl[2]) or 0, n = toks, tok = 1, sc = 1}}\n"
"local hdr = {{0, 0, 0}, {0, 0, 0}}\n"
"local deny, applied = nil, #bs > 0\n"
"for _, l in ipairs(ls) do\n"
"  if l.lim > 0 then\n"
"    applied = true\n"
"    local T = W / l.lim\n"
"    local tat = tonumber(redis.call('HGET', l.h, l.f)) or 0\n"
"    if tat < nowu then tat = nowu end\n"
"    local new = tat + l.n * T\n"
"    if l.n > l.lim then l.ok = false l.retry = -1 l.new = tat\n"
"    elseif new - nowu <= W + EPS then l.ok = true l.new = new\n"
"    else l.ok = false l.retry = math.ceil((new - nowu - W) / 1000) l.new = tat end\n"
"    l.rem = math.floor((W + EPS - (l.new - nowu)) / T)\n"
"    if l.rem < 0 then l.rem = 0 end\n"
"    local h = hdr[l.tok + 1]\n"
"    if h[1] == 0 or l.rem < h[2] then\n"
"      h[1] = l.lim h[2] = l.rem h[3] = math.ceil((l.new - nowu) / 1000)\n"
"    end\n"
"    if not l.ok and (not deny or deny.retry ~= -1 and\n"
"        (l.retry == -1 or l.retry > deny.retry)) then deny = l end\n"
"  end\n"
"end\n"
"if deny then\n"
"  return done({2, deny.sc, has, rem, lim, deny.retry, deny.tok,\n"
"    hdr[1][1], hdr[1][2], hdr[1][3], hdr[2][1], hdr[2][2], hdr[2][3]})\n"
"end\n"
"for _, l in ipairs(ls) do\n"
"  if l.lim > 0 then tat_put(l.h, l.f, l.new) end\n"
"end\n"
"for _, b in ipairs(bs) do\n"
"  b.reserved = b.reserved + cost\n"
"  redis.call('ZADD', b.z, I(now + hold), rid)\n"
"  redis.call('HSET', b.a, rid, I(cost))\n"
"end\n"
"if applied then\n"
"  redis.call('HSET', KEYS[1], 'state', 'held', 'cost_nano', I(cost),\n"
"    'tokens', I(toks), 'admitted_ms', I(now))\n"
"  redis.call('PEXPIRE', KEYS[1], I(hold + keep))\n"
"end\n"
"return done({0, 0, has, rem, lim, 0, 0,\n"
"  hdr[1][1], hdr[1][2], hdr[1][3], hdr[2][1], hdr[2][2], hdr[2][3]})\n";

/*
 * Settlement.  Reply: status (0 settled, 1 settled before, 2 no
 * reservation held), warn (0/1), warn scope, has_budget, remaining_nano
 * (the least), its limit_nano.
 */
static const char settle_script[] = LUA_PRELUDE
"now, day, month = tonumber(ARGV[1]), ARGV[2], ARGV[3]\n"
"local cost, toks = tonumber(ARGV[4]), tonumber(ARGV[5])\n"
"local keep, rid = tonumber(ARGV[10]), ARGV[11]\n"
"local rec = redis.call('HMGET', KEYS[1], 'state', 'tokens')\n"
"local bs = budgets()\n"
"if rec[1] == 'settled' then\n"
"  for _, b in ipairs(bs) do bsave(b) end\n"
"  local has, rem, lim = least(bs)\n"
"  return {1, 0, 0, has, rem, lim}\n"
"end\n"
"local status, warn, wsc = 2, 0, 0\n"
"if rec[1] == 'held' then status = 0 end\n"
"for _, b in ipairs(bs) do\n"
"  local amt = tonumber(redis.call('HGET', b.a, rid))\n"
"  if amt then\n"
"    b.reserved = b.reserved - amt\n"
"    if b.reserved < 0 then b.reserved = 0 end\n"
"    redis.call('HDEL', b.a, rid)\n"
"    redis.call('ZREM', b.z, rid)\n"
"  end\n"
"  b.spent = b.spent + cost\n"
"  if b.warn > 0 and b.warned ~= '1' and b.spent >= b.warn then\n"
"    b.warned = '1'\n"
"    if warn == 0 then warn = 1 wsc = b.i - 1 end\n"
"  end\n"
"  bsave(b)\n"
"end\n"
/* Tokens: the estimate counted at admission becomes what was billed. */
"local est = tonumber(rec[2]) or tonumber(ARGV[12]) or 0\n"
"local d, nowu, touched = toks - est, now * 1000, false\n"
"local pl = redis.call('HGET', KEYS[2], 'tpm')\n"
"local ts = {{KEYS[3], tonumber(ARGV[7]) or 0}, {KEYS[4], tonumber(pl) or 0}}\n"
"for _, t in ipairs(ts) do\n"
"  if t[2] > 0 and d ~= 0 then\n"
"    local tat = tonumber(redis.call('HGET', t[1], 'tok')) or 0\n"
"    if d > 0 and tat < nowu then tat = nowu end\n"
"    tat = tat + d * W / t[2]\n"
"    if tat < nowu then tat = nowu end\n"
"    tat_put(t[1], 'tok', tat)\n"
"    touched = true\n"
"  end\n"
"end\n"
"if rec[1] or #bs > 0 or touched then\n"
"  redis.call('HSET', KEYS[1], 'state', 'settled', 'billed_nano', I(cost),\n"
"    'tokens_billed', I(toks), 'settled_ms', I(now))\n"
"  redis.call('PEXPIRE', KEYS[1], I(keep))\n"
"end\n"
"local has, rem, lim = least(bs)\n"
"return {status, warn, wsc, has, rem, lim}\n";

/* One budget: roll, sweep, save; KEYS budget resv amt; ARGV now day month.  HGETALL or {}. */
const char gov_refresh_script[] = LUA_PRELUDE
"now, day, month = tonumber(ARGV[1]), ARGV[2], ARGV[3]\n"
"local b = bload(0, KEYS[1], KEYS[2], KEYS[3])\n"
"if not b then return {} end\n"
"bsave(b)\n"
"return redis.call('HGETALL', KEYS[1])\n";

/*
 * Set a budget.  KEYS budget.  ARGV: 1 limit_nano 2 period 3 warn_at text
 * 4 warn_nano 5 the period's start 6 scope 7 name 8 now_ms 9 on_redis_down
 * ("open", "closed"; "": as it was, "closed" for a new budget).  Returns
 * the on_redis_down now in force.
 */
const char gov_set_script[] = LUA_PRELUDE
"local o = redis.call('HMGET', KEYS[1], 'period', 'spent_nano',\n"
"  'reserved_nano', 'period_start', 'warned', 'on_redis_down')\n"
"local down = ARGV[9]\n"
"if down ~= 'open' and down ~= 'closed' then down = o[6] end\n"
"if down ~= 'open' then down = 'closed' end\n"
"local spent, reserved = tonumber(o[2]) or 0, tonumber(o[3]) or 0\n"
"local start, warned = o[4], o[5] or '0'\n"
"if o[1] ~= ARGV[2] then spent = 0 start = ARGV[5] warned = '0' end\n"
"local limit, warn = tonumber(ARGV[1]), tonumber(ARGV[4])\n"
"if warn == 0 or spent < warn then warned = '0' end\n"
"redis.call('HSET', KEYS[1], 'scope', ARGV[6], 'name', ARGV[7],\n"
"  'period', ARGV[2], 'period_start', start, 'limit_usd', usd(limit),\n"
"  'spent_usd', usd(spent), 'reserved_usd', usd(reserved),\n"
"  'remaining_usd', usd(limit - spent - reserved), 'warn_at', ARGV[3],\n"
"  'limit_nano', ARGV[1], 'spent_nano', I(spent), 'reserved_nano',\n"
"  I(reserved), 'warn_nano', ARGV[4], 'warned', warned,\n"
"  'updated_ms', ARGV[8], 'on_redis_down', down)\n"
"return down\n";

static char		admit_sha[CRYPTO_SHA1_HEXLEN + 1];
static char		settle_sha[CRYPTO_SHA1_HEXLEN + 1];
static pthread_once_t	sha_once = PTHREAD_ONCE_INIT;

/* Compute both SHA1s once. */
static void
sha_init(void)
{
	crypto_sha1_hex(admit_script, sizeof(admit_script) - 1, admit_sha);
	crypto_sha1_hex(settle_script, sizeof(settle_script) - 1, settle_sha);
}

/* The admission script's text. */
const char *
gov_admit_script(void)
{
	return admit_script;
}

/* Its SHA1 (lowercase hex), for EVALSHA. */
const char *
gov_admit_sha(void)
{
	pthread_once(&sha_once, sha_init);
	return admit_sha;
}

/* The settle script's text. */
const char *
gov_settle_script(void)
{
	return settle_script;
}

/* Its SHA1 (lowercase hex), for EVALSHA. */
const char *
gov_settle_sha(void)
{
	pthread_once(&sha_once, sha_init);
	return settle_sha;
}
