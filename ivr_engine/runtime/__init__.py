"""The call runtime: one engine that walks a flow for a call, whatever the channel."""
