import type { Store } from '../../store/store.js'
import { ControlError } from '../control/control-error.js'

/** The store of a history route, or 503 when this API keeps no history (`--history none`). */
export function requireStore(store: Store | undefined): Store {
  if (!store) throw new ControlError(503, 'BANSTREAM_ERR_NO_HISTORY', 'this banstream keeps no event history (history: none)')
  return store
}
