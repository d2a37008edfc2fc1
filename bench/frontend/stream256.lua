-- wrk script: streamed chat completions of 256 tokens each (SSE).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"model":"tandem-test","messages":[{"role":"user","content":"Tell me a story"}],' ..
           '"max_tokens":256,"ignore_eos":true,"skip_special_tokens":false,"stream":true}'
