export { Authenticator, ANONYMOUS, type AuthOptions } from "./authenticator.js";
export { type Caller, type Scope, ALL_SCOPES, DEFAULT_NAMESPACE, NAMESPACE_PATTERN, METHOD_SCOPES, parseScopes, requireScope } from "./scopes.js";
export { StaticTokens, type StaticToken } from "./tokens.js";
export { JwtVerifier, TokenRefused, type JwtOptions } from "./jwt.js";
