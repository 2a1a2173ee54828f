/** A test's view of an HTTP answer: status, the body parsed as JSON when it is JSON, and its text. */
export async function readJsonResponse(res: Response): Promise<{ status: number; body: any; text: string }> {
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: res.status, body: body as any, text };
}
