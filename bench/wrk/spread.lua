-- Deposits of 1.00 into one of 1,000 accounts chosen at random.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"amount":"1.00"}'
request = function()
  return wrk.format(nil, "/accounts/s-" .. math.random(0, 999) .. "/deposit")
end
