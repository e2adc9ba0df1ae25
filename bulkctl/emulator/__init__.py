"""The local emulator of the Weavr bulk endpoints: state, routes, transports, server."""
