/** Real SQLite failures for tests: a trigger, made through a second connection, that refuses rows. */
import Database from 'better-sqlite3'

/**
 * From now on every row inserted into `updates` for document `doc` in the file at `file` fails
 * with "refused by the test". Returns the function that lifts it.
 */
export function refuseRowsOf(file: string, doc: string): () => void {
  const trigger = `refuse_${doc.replace(/\W/g, '_')}`
  const exec = (sql: string) => {
    const db = new Database(file)
    try {
      db.exec(sql)
    } finally {
      db.close()
    }
  }
  exec(`CREATE TRIGGER ${trigger} BEFORE INSERT ON updates WHEN NEW.doc = '${doc.replace(/'/g, "''")}' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`)
  return () => exec(`DROP TRIGGER ${trigger}`)
}
