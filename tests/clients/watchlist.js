'use strict';
// Watchlist events through pusher-js: user `watcher` signs in with user_data.watchlist
// ['friend']; `friend` then signs in from two tabs on different shards. The watcher's
// pusher.user.watchlist emits `online` once; closing one tab emits nothing, closing the last
// emits `offline`.
// Usage: node watchlist.js        Prints: progress lines, then `ok`.
const c = require('./common');

c.main(async () => {
  const server = c.sdk();
  const conns = await c.pool(server, 8, 'watch');
  const [watcher, tab1, tab2] = c.takeSpread(conns, 3, ['watcher', 'friend tab 1', 'friend tab 2']);
  watcher.signinUser = { id: 'watcher', watchlist: ['friend'] };
  tab1.signinUser = { id: 'friend' };
  tab2.signinUser = { id: 'friend' };
  const events = [];
  watcher.user.watchlist.bind('online', (e) => events.push(['online', e.user_ids]));
  watcher.user.watchlist.bind('offline', (e) => events.push(['offline', e.user_ids]));
  c.step('watcher signs in');
  watcher.signin();
  await watcher.user.signinDonePromise;
  for (const tab of [tab1, tab2]) {
    c.step(`${tab.label} signs in`);
    tab.signin();
    await tab.user.signinDonePromise;
  }
  await c.within(5000, () => events.length >= 1, 'watcher got no online event');
  await c.sleep(200);
  c.assertEqual(events, [['online', ['friend']]], 'watchlist events after two tabs signed in');
  c.hangUp(tab1);
  await c.sleep(300);
  c.assertEqual(events.length, 1, 'no offline while a tab remains');
  c.hangUp(tab2);
  await c.within(5000, () => events.length >= 2, 'watcher got no offline event');
  c.assertEqual(events[1], ['offline', ['friend']], 'offline event');
  return 'ok';
});
