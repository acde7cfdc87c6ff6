// Verifies webhook deliveries with the official Standard Webhooks library (npm
// `standardwebhooks`). Reads a JSON array of {secret, body, headers} on stdin and prints one
// line per delivery: `ok`, or the library's reason for refusing it.
import { createRequire } from "node:module";

const require = createRequire(process.env.STANDARDWEBHOOKS_NODE_MODULES + "/");
const { Webhook } = require("standardwebhooks");

let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  for (const { secret, body, headers } of JSON.parse(input)) {
    try {
      new Webhook(secret).verify(body, headers);
      console.log("ok");
    } catch (error) {
      console.log(`refused: ${error.message}`);
    }
  }
});
