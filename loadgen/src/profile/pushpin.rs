//! The built-in `pushpin` profile: Pushpin in front of the GRIP origin of
//! scripts/peers/grip_origin.py, which frames every technique as docs/PROTOCOL.md does and is
//! routed by Pushpin for every path (`*` route, WebSocket-over-HTTP to the origin). Publishing
//! goes through Pushpin's route to the origin's `POST /publish/{topic}`.

use super::{Profile, pushbench};

/// pushbench's paths, framing and cursors, served through Pushpin.
pub fn profile() -> Profile {
    Profile {
        name: "pushpin".into(),
        publish: pushbench::publish(),
        subscribe: pushbench::subscribe(),
    }
}
