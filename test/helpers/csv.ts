/** Enough CSV for cipherscope's own output in tests. */
export function parseCsv(text: string): string[][] {
  // Enough CSV for our own output: quoted cells may contain commas and doubled quotes.
  return text
    .trim()
    .split('\n')
    .map((line) => {
      const cells: string[] = [];
      let cur = '';
      let q = false;
      for (let i = 0; i < line.length; i++) {
        const ch = line[i];
        if (q) {
          if (ch === '"' && line[i + 1] === '"') (cur += '"'), i++;
          else if (ch === '"') q = false;
          else cur += ch;
        } else if (ch === '"') q = true;
        else if (ch === ',') cells.push(cur), (cur = '');
        else cur += ch;
      }
      cells.push(cur);
      return cells;
    });
}
