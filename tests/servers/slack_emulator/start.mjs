// Starts emulate's Slack service on 127.0.0.1:<port> with a seed file: node start.mjs PORT SEED.yaml
// emulate 0.9.0 listens on every interface and has no option for the address, so the HTTP server's
// listen() is pinned to loopback before emulate creates it: tests must not open a port to the network.
import http from "node:http";
import { readFileSync } from "node:fs";

const [port, seedPath] = process.argv.slice(2);
const listen = http.Server.prototype.listen;
http.Server.prototype.listen = function (portArg, ...rest) {
  const callback = rest.find((arg) => typeof arg === "function");
  return callback ? listen.call(this, portArg, "127.0.0.1", callback) : listen.call(this, portArg, "127.0.0.1");
};

const { parse } = await import("yaml");
const { createEmulator } = await import("emulate");
const emulator = await createEmulator({
  service: "slack",
  port: Number(port),
  baseUrl: `http://127.0.0.1:${port}`,
  seed: parse(readFileSync(seedPath, "utf8")),
});
console.log(`slack emulator on ${emulator.url}`);
const stop = () => emulator.close().then(() => process.exit(0));
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
