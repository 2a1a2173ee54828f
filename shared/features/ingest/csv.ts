/**
 * A streaming CSV reader (RFC 4180: quoted fields, doubled quotes, newlines inside quotes,
 * CRLF or LF). The first row is the header; each later row becomes a record keyed by it.
 */
export interface CsvRow {
  /** 1-based line number where the row starts (for error positions). */
  line: number;
  values: string[];
}

export class CsvParser {
  private field = '';
  private row: string[] = [];
  private inQuotes = false;
  private quotePending = false;
  private line = 1;
  private rowStartLine = 1;
  private sawAny = false;

  /** Feed a chunk; returns the rows it completed. */
  push(chunk: string): CsvRow[] {
    const out: CsvRow[] = [];
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i]!;
      if (this.inQuotes) {
        if (this.quotePending) {
          this.quotePending = false;
          if (c === '"') {
            this.field += '"';
            continue;
          }
          this.inQuotes = false;
          // fall through: c is handled as outside quotes
        } else if (c === '"') {
          this.quotePending = true;
          continue;
        } else {
          if (c === '\n') this.line++;
          this.field += c;
          continue;
        }
      }
      this.sawAny = true;
      if (c === '"' && this.field === '') {
        this.inQuotes = true;
      } else if (c === ',') {
        this.row.push(this.field);
        this.field = '';
      } else if (c === '\n') {
        this.endRow(out);
        this.line++;
        this.rowStartLine = this.line;
      } else if (c === '\r') {
        // CR of CRLF: ignored; a lone CR inside a field is dropped too.
      } else {
        this.field += c;
      }
    }
    return out;
  }

  /** Finish the input; returns the last row if it had no trailing newline. */
  end(): CsvRow[] {
    const out: CsvRow[] = [];
    if (this.inQuotes && !this.quotePending) throw new Error(`line ${this.rowStartLine}: a quoted field is not closed`);
    this.inQuotes = false;
    this.quotePending = false;
    if (this.field !== '' || this.row.length) this.endRow(out);
    return out;
  }

  private endRow(out: CsvRow[]): void {
    this.row.push(this.field);
    this.field = '';
    const values = this.row;
    this.row = [];
    // Blank lines are skipped.
    if (!(values.length === 1 && values[0] === '')) out.push({ line: this.rowStartLine, values });
    void this.sawAny;
  }
}
