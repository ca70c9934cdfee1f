/** ICE servers as the settings screen edits them: one row per server, its URLs separated by commas. */
export interface IceServerRow {
  urls: string;
  username: string;
  credential: string;
}

/** Rows to RTCIceServer entries; empty rows are skipped; a URL must be stun:, turn: or turns:. */
export function parseIceServerRows(rows: readonly IceServerRow[]): { ok: true; servers: RTCIceServer[] } | { ok: false; problem: string } {
  const servers: RTCIceServer[] = [];
  for (const row of rows) {
    const urls = row.urls.split(/[\s,]+/).filter(Boolean);
    if (urls.length === 0) continue;
    const wrong = urls.find((u) => !/^(stun|turns?):/i.test(u));
    if (wrong) return { ok: false, problem: `"${wrong}" is not a STUN or TURN address (it starts with stun:, turn: or turns:).` };
    const turn = urls.some((u) => /^turns?:/i.test(u));
    if (turn && (!row.username.trim() || !row.credential))
      return { ok: false, problem: `The TURN server ${urls[0]} needs a user name and a password.` };
    servers.push({
      urls: urls.length === 1 ? urls[0]! : urls,
      ...(row.username.trim() ? { username: row.username.trim() } : {}),
      ...(row.credential ? { credential: row.credential } : {}),
    });
  }
  return { ok: true, servers };
}
