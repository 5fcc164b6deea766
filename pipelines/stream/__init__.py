"""The streaming path: a producer that sends dataset rows as events, a consumer that keeps online features fresh."""
