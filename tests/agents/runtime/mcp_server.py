"""A small MCP server for the runtime's tests (mcp 2.x), over stdio or streamable HTTP:

    python mcp_server.py                 # stdio
    python mcp_server.py http PORT       # streamable HTTP at http://127.0.0.1:PORT/mcp

`post_message` appends to the file named by MCP_TEST_LOG (so a test can count real executions), `hang`
never answers, `crash` kills the server process mid-call.
"""

from __future__ import annotations

import asyncio
import os
import sys

from mcp.server.mcpserver import MCPServer

server = MCPServer("test-tools")


@server.tool()
def post_message(channel: str, text: str) -> str:
    """Post a message to a chat channel."""
    log = os.environ.get("MCP_TEST_LOG")
    if log:
        with open(log, "a") as file:
            file.write(f"{channel}:{text}\n")
    return f"posted to #{channel}: {text}"


@server.tool()
async def hang() -> str:
    """Never answers."""
    await asyncio.sleep(3600)
    return "late"


@server.tool()
def crash() -> str:
    """Kills the server mid-call."""
    os._exit(3)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "http":
        server.run(transport="streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        server.run()
