// The reference: a stock @hocuspocus/server (in memory, every token accepted), on port 0.
import { Server } from "@hocuspocus/server";

const server = new Server({
  port: 0,
  address: "127.0.0.1",
  quiet: true,
  stopOnSignals: true,
  async onAuthenticate() {},
});
await server.listen();
console.log(`READY ${server.address.port}`);
