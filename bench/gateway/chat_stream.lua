-- Streaming OpenAI chat completion without stream_options: a gateway must still meter it (it asks the
-- upstream for usage itself). wrk times the whole chunked response, to the last event.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("WRK_KEY") or "")
wrk.body = '{"model":"' .. (os.getenv("WRK_MODEL") or "stub-small") ..
  '","messages":[{"role":"user","content":"Say hello in five words."}],"stream":true}'
