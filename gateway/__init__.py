"""A GraphQL gateway across schema-isolated services sharing one PostgreSQL pool."""
