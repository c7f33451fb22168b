import { ApiError } from "../api/client.js";

/** An error from the API, said plainly; asks for a token when that is the problem. */
export function ErrorNotice({ error }: { error: Error | undefined }) {
  if (!error) return null;
  const auth = error instanceof ApiError && error.isAuth;
  return (
    <div class="notice error" role="alert">
      {auth ? "The broker wants a token: enter it at the top right. " : ""}
      {error instanceof ApiError ? `${error.code}: ` : ""}
      {error.message}
    </div>
  );
}
