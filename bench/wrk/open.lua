-- Opens s-0 .. s-999 then "hot", one request at a time (wrk -t1 -c1).
-- wrk calls request() once before the run to check it, hence the start at -1.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
counter = -1
request = function()
  local id = counter
  counter = counter + 1
  if id > 999 then id = "hot" else id = "s-" .. id end
  return wrk.format(nil, "/accounts", nil, '{"account_id":"' .. id .. '","owner":"B","currency":"USD"}')
end
