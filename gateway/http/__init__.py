"""The HTTP edge: connections, request guards, the GraphQL route, GraphiQL, health and metrics."""
