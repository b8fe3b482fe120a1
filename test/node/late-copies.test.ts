// node/late-copies.ts: an older version is a late copy while it was superseded only moments
// ago (within the window), and a replay after that.
import t from 'tap'
import { LATE_COPY_WINDOW_MS, LateCopies } from '../../node/late-copies.ts'

t.test('older versions are late copies within the window after they were superseded, replays after it', async t => {
  let now = 1_000_000
  const copies = new LateCopies(LATE_COPY_WINDOW_MS, () => now)
  t.notOk(copies.isLate(4, 5), 'a node that resumed version 5 and took nothing since: 4 is a replay')
  copies.superseded(5) // 5 → 6
  now += 1000
  copies.superseded(6) // 6 → 8: 7 skipped
  t.ok(copies.isLate(7, 8), 'a version skipped just now')
  t.ok(copies.isLate(6, 8), 'the version superseded just now')
  t.ok(copies.isLate(5, 8), 'the one superseded a second ago')
  t.notOk(copies.isLate(4, 8), 'one that was already old before the window: a replay')
  t.notOk(copies.isLate(8, 8), 'the held version itself is no late copy (the duplicate rule handles it)')
  t.notOk(copies.isLate(9, 8), 'nor a newer one')
  now += LATE_COPY_WINDOW_MS - 1000
  t.notOk(copies.isLate(5, 8), 'the first change has left the window: 5 is a replay now')
  t.ok(copies.isLate(6, 8), 'the second is still in it')
  now += 1000
  t.notOk(copies.isLate(7, 8), 'a window after the last change, every older version is a replay')
})

t.test('the window is the node\'s setting', async t => {
  let now = 0
  const copies = new LateCopies(100, () => now)
  copies.superseded(1)
  now = 99
  t.ok(copies.isLate(1, 3) && copies.isLate(2, 3), 'within 100 ms: late')
  now = 100
  t.notOk(copies.isLate(2, 3), 'at 100 ms: a replay')
})
