-- Deposits of 0.01 into the single account "hot".
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"amount":"0.01"}'
request = function()
  return wrk.format(nil, "/accounts/hot/deposit")
end
