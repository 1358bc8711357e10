"""The app's plumbing, below every layer: settings, database engine and extensions,
logging, request context, security headers, cookie sessions, proxies, error
handlers, body limits and the health check. It imports no service, page or API module."""
