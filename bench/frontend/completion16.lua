-- wrk script: non-streaming 16-token text completions.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"model":"tandem-test","prompt":"The quick brown fox","max_tokens":16,"ignore_eos":true}'
