//! The Lua scripts the Redis backend runs (EVALSHA, loaded again by `redis::Script` when the
//! server answers NOSCRIPT, e.g. after a restart). Each runs atomically on the server, so a
//! topic's counter, its log and the channel never disagree, whichever instance calls.

use ::redis::Script;

/// KEYS: counter, log. ARGV: channel, topic, event ('' for none), data, retention.
/// Takes the next seq, appends the message (`codec`'s format) to the log trimmed to the
/// retention, publishes it on the channel; returns the seq. (`string.format('%d')`, since Lua's
/// own number-to-string writes 1e+14 and above in exponent form.)
const PUBLISH: &str = r#"
local seq = redis.call('INCR', KEYS[1])
local msg = string.format('%d', seq) .. ' ' .. ARGV[2] .. ' ' .. ARGV[3] .. '\n' .. ARGV[4]
local keep = tonumber(ARGV[5])
if keep > 0 then
  redis.call('RPUSH', KEYS[2], msg)
  redis.call('LTRIM', KEYS[2], -keep, -1)
end
redis.call('PUBLISH', ARGV[1], msg)
return seq
"#;

/// KEYS: counter, log. ARGV: after. Returns `{latest, {entries with seq > after, oldest
/// first}}`, walking the log from its newest end (an entry that does not start with a seq
/// ends the walk).
const SINCE: &str = r#"
local latest = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
local after = tonumber(ARGV[1])
local i = redis.call('LLEN', KEYS[2]) - 1
while i >= 0 do
  local e = redis.call('LINDEX', KEYS[2], i)
  local s = tonumber(string.match(e, '^(%d+) '))
  if s == nil or s <= after then break end
  i = i - 1
end
return {latest, redis.call('LRANGE', KEYS[2], i + 1, -1)}
"#;

/// KEYS: counter. ARGV: seq. Sets the counter to seq when it is below.
const RAISE: &str = r#"
local cur = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if cur < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[1])
end
return 0
"#;

/// The three scripts, hashed once.
pub struct Scripts {
    pub publish: Script,
    pub since: Script,
    pub raise: Script,
}

impl Scripts {
    pub fn new() -> Scripts {
        Scripts {
            publish: Script::new(PUBLISH),
            since: Script::new(SINCE),
            raise: Script::new(RAISE),
        }
    }
}
