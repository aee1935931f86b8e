-- Put the deployed config's limits and states into Redis (called by every node on start).
--
-- KEYS[1] meta hash; KEYS[1+i] target i's state hash
-- ARGV: digest, force (1/0), then per target: name, limit (-1 = none), state
-- A new digest (or force) is a deploy: config values replace any live change. The same digest
-- (a node restarting) keeps live changes and only restores values Redis lost.
-- Returns {1 if applied as a deploy, the previous target names joined by ','}.

local meta, digest = KEYS[1], ARGV[1]
local old = redis.call('HMGET', meta, 'digest', 'targets')
local deploy = ARGV[2] == '1' or old[1] ~= digest
local names = {}
for i = 1, #KEYS - 1 do
  local h, name, limit, state = KEYS[1 + i], ARGV[3 * i], ARGV[3 * i + 1], ARGV[3 * i + 2]
  names[i] = name
  if deploy then
    redis.call('HSET', h, 'limit', limit, 'limit_src', 'config', 'state', state, 'state_src', 'config')
  else
    if redis.call('HSETNX', h, 'limit', limit) == 1 then redis.call('HSET', h, 'limit_src', 'config') end
    if redis.call('HSETNX', h, 'state', state) == 1 then redis.call('HSET', h, 'state_src', 'config') end
  end
end
redis.call('HSET', meta, 'digest', digest, 'targets', table.concat(names, ','))
return {deploy and 1 or 0, old[2] or ''}
