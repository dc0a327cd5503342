"""What an operation may cost, measured on the parsed document before anything runs."""
