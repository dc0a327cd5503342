"""What a service is written against: its schema part, context, errors, pages and batch fields."""
