//! `ferry-e2e-drag-source PATH...`: a small GTK window whose button can be
//! dragged, offering PATHs as `text/uri-list` exactly as a file manager does.
//! The e2e tests press, move and release the mouse with xdotool, so the app
//! receives a real XDND drop. Exits after the drag ends (or after 60 s).

use gtk::prelude::*;

fn file_uri(path: &str) -> String {
    let mut uri = String::from("file://");
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            uri.push(b as char);
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri
}

fn main() {
    let uris: Vec<String> = std::env::args().skip(1).map(|p| file_uri(&p)).collect();
    gtk::init().expect("GTK starts on $DISPLAY");

    let window = gtk::Window::new(gtk::WindowType::Toplevel);
    window.set_title("ferry-e2e drag source");
    window.set_default_size(180, 90);
    window.move_(10, 700);
    let button = gtk::Button::with_label("drag me");
    let targets = [gtk::TargetEntry::new(
        "text/uri-list",
        gtk::TargetFlags::OTHER_APP,
        0,
    )];
    button.drag_source_set(
        gdk::ModifierType::BUTTON1_MASK,
        &targets,
        gdk::DragAction::COPY,
    );
    button.connect_drag_data_get(move |_, _, data, _, _| {
        let refs: Vec<&str> = uris.iter().map(String::as_str).collect();
        data.set_uris(&refs);
    });
    button.connect_drag_end(|_, _| {
        glib::timeout_add_local_once(std::time::Duration::from_millis(300), gtk::main_quit);
    });
    window.add(&button);
    window.connect_destroy(|_| gtk::main_quit());
    window.show_all();
    glib::timeout_add_seconds_local_once(60, gtk::main_quit);
    gtk::main();
}
