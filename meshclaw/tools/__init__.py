"""What a tool is, to the rest of MeshClaw: its name, arguments, effect class and the scopes it needs.

Owns the effect classes (the Safety issue's vocabulary) and the tool registry that connectors, MCP servers
and Agent Skills fill. It holds no policy: the policy gate reads a tool's effect class from here.
"""
