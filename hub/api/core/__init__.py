"""The API's framework: endpoint declarations, errors and middleware, auth and roles, scope,
store helpers, paging, shared schema types, OpenAPI, language, login, health and the live feed.
It imports no domain of the API."""
