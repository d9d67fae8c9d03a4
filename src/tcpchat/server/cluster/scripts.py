"""The Lua scripts the bus runs (docs/CLUSTER.md): each is one atomic step in Redis, so a claim
and its check, an id and its entry, a reap and its "gone" can never be separated or done twice.

The reap and release scripts touch keys they read from a set (a node's held names), which a
Redis Cluster would refuse; tcp-chat talks to one Redis (with replicas or Sentinel at most).

Every script that appends to a stream also publishes the entry on the channel of the stream's
name, as ``<id> <value>`` (the entry's one field, ``e``): nodes are pushed the entries as they
are appended and read the stream itself only to catch up (at start, after a loss). Both happen
in one script, so the pushes come in the stream's order. A burst appended by one call is
pushed as one message, its entries one per line (a value is JSON: it holds no newline).

Every script that writes for a node is fenced by its lease: the lease's key comes first
(``KEYS[1]``) and this run's boot id first (``ARGV[1]``), and nothing is written (the answer is
``'!lease'``) unless the lease holds that id. A node that stalled past its lease (and was
reaped: its names freed and perhaps given to others) or a stale run of a node whose name
another run took cannot write a message, a private message, a presence or a release under
names that are no longer its own; it learns so from the answer and joins again. (A lease may
also have run out in a stall of Redis, before its renewal held in the stall ran: the node then
renews it, and sends again what was refused, if the others did not reap it meanwhile.)
"""

from __future__ import annotations

from typing import Any

# What a fenced script answers when this run of the node does not hold the node's lease.
LEASE_LOST = "!lease"


def fenced(answer: Any) -> Any:
    """A fenced script's answer; ``LookupError`` if it refused because this run of the node
    does not hold the node's lease: the node must join again."""
    if answer == LEASE_LOST:
        raise LookupError("this node lost its lease")
    return answer


# Append an entry numbered by the cluster's sequence: its id is the message id (0-N).
# KEYS: lease, seq, stream. ARGV: boot, maxlen, then field, value, ...  Returns the id.
APPEND = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return '!lease' end
local id = redis.call('INCR', KEYS[2])
local args = {'XADD', KEYS[3], 'MAXLEN', '~', ARGV[2], '0-' .. id}
for i = 3, #ARGV do args[#args + 1] = ARGV[i] end
redis.call(unpack(args))
redis.call('PUBLISH', KEYS[3], '0-' .. id .. ' ' .. ARGV[#ARGV])
return id
"""

# Append several entries at once, numbered by the sequence (the bus sends a burst of room
# messages in one call: one command, not one each), and push them in one message. The ids are
# taken at once and the stream trimmed once, after the burst. The push is joined from its parts
# in one go: a string per line made first (and interned by Lua) cost Redis 10-20 % more.
# KEYS: lease, seq, stream. ARGV: boot, maxlen, the field, then one value per entry. Returns
# the last id.
APPEND_MANY = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return '!lease' end
local n = #ARGV - 3
if n < 1 then return 0 end
local last = redis.call('INCRBY', KEYS[2], n)
local first = last - n
local parts = {}
for i = 1, n do
  local id = '0-' .. (first + i)
  local value = ARGV[i + 3]
  redis.call('XADD', KEYS[3], id, ARGV[3], value)
  parts[4 * i - 3] = id
  parts[4 * i - 2] = ' '
  parts[4 * i - 1] = value
  parts[4 * i] = '\\n'
end
parts[4 * n] = nil
redis.call('XTRIM', KEYS[3], 'MAXLEN', '~', ARGV[2])
redis.call('PUBLISH', KEYS[3], table.concat(parts))
return last
"""

# A topic: appended as an entry numbered by the sequence, and kept (cleared ones too) as the
# room's last topic entry with its id, in one step, so that a joining node's snapshot (SNAPSHOT)
# has the topics set up to its point of the log however long ago (the log's entries are
# trimmed away in time). Past ``most`` rooms the one whose topic was set longest ago goes.
# KEYS: lease, seq, stream, topics, topics by id. ARGV: boot, maxlen, room key, most, field,
# value. Returns the id.
TOPIC = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return '!lease' end
local id = redis.call('INCR', KEYS[2])
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[2], '0-' .. id, ARGV[5], ARGV[6])
redis.call('HSET', KEYS[4], ARGV[3], ARGV[6])
redis.call('ZADD', KEYS[5], id, ARGV[3])
if redis.call('ZCARD', KEYS[5]) > tonumber(ARGV[4]) then
  local oldest = redis.call('ZPOPMIN', KEYS[5])
  redis.call('HDEL', KEYS[4], oldest[1])
end
redis.call('PUBLISH', KEYS[3], '0-' .. id .. ' ' .. ARGV[6])
return id
"""

# A private message into the recipient's node inbox, only if that node still holds the name.
# KEYS: lease, seq, inbox, the recipient's first claim key. ARGV: boot, maxlen, node, then
# field, value, ...  Returns the id, or 0 if the name is no longer held by that node.
WHISPER = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return '!lease' end
local holder = redis.call('GET', KEYS[4])
if not holder or string.sub(holder, 1, #ARGV[3] + 1) ~= ARGV[3] .. '\\t' then return 0 end
local id = redis.call('INCR', KEYS[2])
local args = {'XADD', KEYS[3], 'MAXLEN', '~', ARGV[2], '0-' .. id}
for i = 4, #ARGV do args[#args + 1] = ARGV[i] end
redis.call(unpack(args))
redis.call('PUBLISH', KEYS[3], '0-' .. id .. ' ' .. ARGV[#ARGV])
return id
"""

# The word that a private message did not reach its recipient, into the inbox of its sender's
# node, only if that node is still in the cluster (a dead node's inbox is not filled again). Not
# tied to the sender's name, as WHISPER is to the recipient's: the sender may have changed it.
# Written once per private message: the bounced key (kept ``ms``) says it was, so a bounce sent
# again (its pipeline failed with its answer unknown; a node that died after answering and its
# reaper) tells its sender nothing twice.
# KEYS: lease, seq, inbox, nodes, bounced. ARGV: boot, maxlen, node, field, value, ms.  Returns
# the id, or 0.
BOUNCE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return '!lease' end
if redis.call('SISMEMBER', KEYS[4], ARGV[3]) == 0 then return 0 end
if not redis.call('SET', KEYS[5], '1', 'NX', 'PX', ARGV[6]) then return 0 end
local id = redis.call('INCR', KEYS[2])
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[2], '0-' .. id, ARGV[4], ARGV[5])
redis.call('PUBLISH', KEYS[3], '0-' .. id .. ' ' .. ARGV[5])
return id
"""

# Ids go on above every id a node has stored or read (after a Redis restart without persistence
# or from an older state, or a standalone server's history joining a cluster); then ``count``
# of them are reserved for the node (0: none). The numbers stay strings and INCRBY's: a Lua
# number past 14 digits would be written back as 1.2e+14, which INCR refuses.
# KEYS: seq. ARGV: floor, count. Returns the seq (the last id reserved).
FLOOR = """
if tonumber(redis.call('GET', KEYS[1]) or '0') < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[1])
end
return redis.call('INCRBY', KEYS[1], ARGV[2])
"""

# Claim every key of a name for this node, if none is held and this node's lease is its own.
# A key held by the name the claimant gives up (a rename to a look-alike of it: bob to Bob)
# counts as free. KEYS: lease, held set, claim keys... ARGV: boot id, holder value, the old
# name's holder value ("" for none). Returns '' when claimed, the holder's value when taken,
# '!lease' when this node lost its lease.
CLAIM = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return '!lease' end
for i = 3, #KEYS do
  local held = redis.call('GET', KEYS[i])
  if held and held ~= ARGV[3] then return held end
end
for i = 3, #KEYS do
  redis.call('SET', KEYS[i], ARGV[2])
  redis.call('SADD', KEYS[2], KEYS[i])
end
return ''
"""

# Reserve a server's name (a node with IRC: nobody may pass for it) and its look-alikes for good:
# listed among the servers' names, and each claim key not held yet takes ``value`` (no node:
# never released, never reaped). KEYS: servers set, claim keys... ARGV: value, the name ('':
# only read the list). Returns {the first value of another holder found (a user who had the
# name first, or a server whose name looks alike) or '', the servers' names...}.
RESERVE = """
if ARGV[2] ~= '' then redis.call('SADD', KEYS[1], ARGV[2]) end
local other = ''
for i = 2, #KEYS do
  local held = redis.call('GET', KEYS[i])
  if not held then
    redis.call('SET', KEYS[i], ARGV[1])
  elseif held ~= ARGV[1] and other == '' then
    other = held
  end
end
return {other, unpack(redis.call('SMEMBERS', KEYS[1]))}
"""

# Let go of a name's keys that this node holds under that value. KEYS: lease, held set, claim
# keys... ARGV: boot, holder value. Returns how many keys were freed.
RELEASE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return '!lease' end
local freed = 0
for i = 3, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[2] then
    redis.call('DEL', KEYS[i])
    redis.call('SREM', KEYS[2], KEYS[i])
    freed = freed + 1
  end
end
return freed
"""

# Renew this node's lease unless it was reaped, or another process took the node's name after
# this one's lease lapsed (then it must join again, which waits for that one to go); the lease
# then holds ``new`` (a node back from a lost link takes a new boot id, so that what a dead
# connection of the old link still carries to Redis later is refused by the fence). A lease
# holding ``new`` already is renewed too: the answer to the call that set it may have been lost.
# The node's inbox read mark (MARK) is kept as long again as the lease's TTL lasts: a run of an
# older version, which neither notes nor renews it, lets it lapse (REAP then takes nothing).
# KEYS: lease, nodes, read mark. ARGV: node, boot id, ms, new boot id, the mark's ms.
# Returns 1 renewed, 0 reaped or taken.
RENEW = """
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 0 then return 0 end
local held = redis.call('GET', KEYS[1])
if held and held ~= ARGV[2] and held ~= ARGV[4] then return 0 end
redis.call('SET', KEYS[1], ARGV[4], 'PX', ARGV[3])
redis.call('PEXPIRE', KEYS[3], ARGV[5])
return 1
"""

# A node without a lease: free its names, forget its members, announce it gone, once; its inbox
# goes after ``ttl`` ms (unless it comes back: ``Bus.register`` keeps it again). The node
# itself (joining afresh, leaving) passes its boot id as ``own`` (and ``next``, the one a
# renewal may be taking: RENEW): done even if it was reaped already, since a node that stalled
# past its reaping may have written users and names after it, but not if another run of the
# node holds the lease now (those are that run's); its lease is left to it (a node leaving
# answers what it never handled under it, then lets it go: LET_GO); its inbox goes at once if
# ``ttl`` is 0 (leaving), else stays. A node joining (``ttl`` not 0) is listed by the same step
# (``Bus.register`` sets its lease next): one that fails before its lease is set is then reaped
# by the others as any node without one, rather than left unlisted, never reaped, with the users
# its gone entry said stay (``cl.Gone``'s ``staying``) shown on the other nodes for good.
# If ``most`` is not 0, the entries of its inbox it never handled (after its read mark, MARK,
# and after ``read``, the position the node itself gives) are taken, ``most`` at most, and the
# mark moved past them: the private messages among them are answered "not delivered" by whoever
# reaped (Bus.reap), once, and a node that only stalled reads on after them. Without a mark (a
# node of an older version, which notes none) nothing is taken, for what it handled is not
# known, and a new run of the node reaping its earlier one starts the mark at the inbox's end.
# Everything is read before anything is written: a script that fails half way keeps what it
# wrote, and a node half reaped would be reaped by nobody.
# KEYS: its lease, nodes, its held set, its members, seq, log, its inbox, its read mark.
# Another node is reaped only if Redis runs the script by ``late``, a time on Redis's own clock
# (ms; the reaper's look at the leases plus CLUSTER_STALL_S): a reap held up by a stall of Redis
# (``CLIENT PAUSE WRITE`` lets the look through and holds the script) would otherwise run before
# the renewals held with it, and reap live nodes (core/lease.py, Stalls).
# ARGV: node, maxlen, own (a boot id, or ''), next, ttl, read, most, the mark's ms while its node
# lives, late ('0': none), n, then n pairs of a user staying and its JSON list of room names (its
# members record from now on, as its gone entry says: a snapshot read before the node's claims
# has them), then the gone entry's field, value, ...  Returns {the gone entry's id,
# the mark, then id, value per entry taken}, or 0 if the node is alive or was reaped already
# (and it is not its own), if another run holds its lease, or if it came too late. Ids are
# compared as the strings of digits they are: a Lua number loses digits.
REAP = """
redis.replicate_commands()  -- (Redis 5 and 6 set to lua-replicate-commands no: TIME, then writes)
local own = ARGV[3] ~= ''
if own then
  local held = redis.call('GET', KEYS[1])
  if held and held ~= ARGV[3] and held ~= ARGV[4] then return 0 end
else
  if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
  if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 0 then return 0 end
  if ARGV[9] ~= '0' then
    local now = redis.call('TIME')
    if tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) > tonumber(ARGV[9]) then
      return 0
    end
  end
end
local function later(a, b) return #a > #b or (#a == #b and a > b) end
local function number(id)
  if string.sub(id, 1, 2) == '0-' and string.match(id, '^0%-%d+$') then
    return string.sub(id, 3)
  end
end
local mark = redis.call('GET', KEYS[8])
if mark and not string.match(mark, '^%d+$') then mark = nil end
local from = mark or '0'
if later(ARGV[6], from) then from = ARGV[6] end
local out = {0, from}
if mark and ARGV[7] ~= '0' then
  local first = '0-' .. from
  local items = redis.call('XRANGE', KEYS[7], first, '+', 'COUNT', tonumber(ARGV[7]) + 1)
  for _, item in ipairs(items) do
    if item[1] ~= first and #out < 2 + 2 * tonumber(ARGV[7]) then
      out[#out + 1] = item[1]
      out[#out + 1] = item[2][2] or ''
      local n = number(item[1])
      if n then out[2] = n end
    end
  end
elseif own and ARGV[7] ~= '0' then
  local last = redis.call('XREVRANGE', KEYS[7], '+', '-', 'COUNT', 1)[1]
  local n = last and number(last[1])
  if n and later(n, from) then out[2] = n end
end
if not own then redis.call('DEL', KEYS[1]) end
if own and ARGV[5] ~= '0' then
  redis.call('SADD', KEYS[2], ARGV[1])
else
  redis.call('SREM', KEYS[2], ARGV[1])
end
if own and ARGV[5] == '0' then
  redis.call('DEL', KEYS[7], KEYS[8])
elseif own then
  redis.call('SET', KEYS[8], out[2], 'PX', ARGV[8])
else
  redis.call('PEXPIRE', KEYS[7], ARGV[5])
  if mark then redis.call('SET', KEYS[8], out[2], 'PX', ARGV[5]) end
end
for _, key in ipairs(redis.call('SMEMBERS', KEYS[3])) do redis.call('DEL', key) end
redis.call('DEL', KEYS[3], KEYS[4])
local staying = 2 * tonumber(ARGV[10])
for i = 11, 10 + staying, 2 do redis.call('HSET', KEYS[4], ARGV[i], ARGV[i + 1]) end
local id = redis.call('INCR', KEYS[5])
local args = {'XADD', KEYS[6], 'MAXLEN', '~', ARGV[2], '0-' .. id}
for i = 11 + staying, #ARGV do args[#args + 1] = ARGV[i] end
redis.call(unpack(args))
redis.call('PUBLISH', KEYS[6], '0-' .. id .. ' ' .. ARGV[#ARGV])
out[1] = id
return out
"""

# A node that left (REAP of itself) lets its lease go, if this run still holds it, so that its
# next run need not wait for it to lapse. KEYS: lease. ARGV: boot id, next. Returns 1 if let go.
LET_GO = """
local held = redis.call('GET', KEYS[1])
if held and (held == ARGV[1] or held == ARGV[2]) then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
"""

# Note how far a node handled its inbox (its read mark: what a reap of it takes comes after),
# kept as RENEW keeps it. KEYS: lease, read mark. ARGV: boot, the id of the last entry handled,
# the mark's ms. Returns 1.
MARK = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return '!lease' end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
return 1
"""

# A presence entry and what it changes in the node's record of its users, in one step, so that a
# joining node's snapshot (SNAPSHOT) and the log meet exactly.
# KEYS: lease, seq, log, the node's members hash. ARGV: boot, maxlen, count of changes, then
# (name, rooms as JSON, or '' when the user left) per change, then field, value, ...  Returns
# the entry's id.
PRESENCE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return '!lease' end
local n = tonumber(ARGV[3])
for i = 0, n - 1 do
  local name, rooms = ARGV[4 + 2 * i], ARGV[5 + 2 * i]
  if rooms == '' then redis.call('HDEL', KEYS[4], name)
  else redis.call('HSET', KEYS[4], name, rooms) end
end
local id = redis.call('INCR', KEYS[2])
local args = {'XADD', KEYS[3], 'MAXLEN', '~', ARGV[2], '0-' .. id}
for i = 4 + 2 * n, #ARGV do args[#args + 1] = ARGV[i] end
redis.call(unpack(args))
redis.call('PUBLISH', KEYS[3], '0-' .. id .. ' ' .. ARGV[#ARGV])
return id
"""

# What a node joining the cluster starts from: the log's last id, the rooms' last topic entries
# in the order they were set (only if ``topics`` is '1': a node that reads again who is where
# has them), and every listed node's users with their rooms.
# KEYS: nodes, log, topics, topics by id. ARGV: the members hashes' key prefix, topics.
# Returns {last id or '0-0', {id, topic entry, ...}, node, {name, rooms, ...}, node, ...}.
SNAPSHOT = """
local out = {}
local last = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
if last[1] then out[1] = last[1][1] else out[1] = '0-0' end
local topics = {}
local order = {}
if ARGV[2] == '1' then order = redis.call('ZRANGE', KEYS[4], 0, -1, 'WITHSCORES') end
for i = 1, #order, 2 do
  local entry = redis.call('HGET', KEYS[3], order[i])
  if entry then
    topics[#topics + 1] = order[i + 1]
    topics[#topics + 1] = entry
  end
end
out[2] = topics
for _, node in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  out[#out + 1] = node
  out[#out + 1] = redis.call('HGETALL', ARGV[1] .. node)
end
return out
"""
