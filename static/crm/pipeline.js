// The pipeline board: drag a card to another stage (HTML5 drag and drop; the CSP keeps scripts
// out of the templates). A drop posts to the same endpoint as the card's Move menu, which stays
// for keyboards, touch screens and pages without script. Dropping on "won" or "lost" opens the
// form the deal page asks for; a refused move puts the card back and says why.
(function () {
  "use strict";
  var board = document.querySelector("[data-board]");
  if (!board) return;
  var status = document.getElementById("board-status");
  var dragged = null; // {card, column, next}

  function say(text, isError) {
    status.textContent = text;
    status.className = "board-status" + (isError ? " board-status-error" : " board-status-ok");
  }

  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function cardsOf(column) {
    return column.querySelector(".board-cards");
  }

  // Newest first, then the highest id: the column's order on the server.
  function placeInOrder(card, column) {
    var list = cardsOf(column);
    var key = card.dataset.created;
    var id = Number(card.dataset.deal);
    var cards = list.querySelectorAll(".deal-card");
    for (var i = 0; i < cards.length; i++) {
      var other = cards[i];
      if (other === card) continue;
      var otherKey = other.dataset.created;
      if (otherKey < key || (otherKey === key && Number(other.dataset.deal) < id)) {
        list.insertBefore(card, other);
        return;
      }
    }
    var more = list.querySelector(".board-more");
    list.insertBefore(card, more || list.querySelector(".board-empty"));
  }

  function putBack(state) {
    cardsOf(state.column).insertBefore(state.card, state.next);
  }

  function refusal(response, text) {
    var doc = new DOMParser().parseFromString(text, "text/html");
    var message = doc.querySelector(".message-error, [role=alert]");
    if (message && message.textContent.trim()) return message.textContent.trim();
    if (response.status === 403) return "You may not move this deal.";
    if (response.status === 404) return "This deal is no longer yours to see.";
    return "The deal could not be moved; nothing was changed.";
  }

  function updateTotals(text) {
    var doc = new DOMParser().parseFromString(text, "text/html");
    doc.querySelectorAll(".board-stats[id]").forEach(function (fresh) {
      var old = document.getElementById(fresh.id);
      if (old) old.replaceWith(document.importNode(fresh, true));
    });
  }

  function moved(card, stage) {
    var from = card.querySelector("input[name=from_stage]");
    if (from) from.value = stage;
    var select = card.querySelector("select[name=to]");
    if (select) select.value = stage;
  }

  function move(state, column) {
    var card = state.card;
    var stage = column.dataset.stage;
    var label = column.dataset.label;
    var body = new FormData();
    body.append("to", stage);
    body.append("from_stage", state.column.dataset.stage);
    if (board.dataset.mine) body.append("mine", "1");
    placeInOrder(card, column);
    card.classList.add("is-saving");
    fetch(card.dataset.moveUrl, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), "HX-Request": "true" },
    }).then(function (response) {
      return response.text().then(function (text) {
        card.classList.remove("is-saving");
        if (response.ok) {
          updateTotals(text);
          moved(card, stage);
          say(card.dataset.name + " moved to " + label + ".", false);
        } else {
          putBack(state);
          say(refusal(response, text), true);
        }
      });
    }).catch(function () {
      card.classList.remove("is-saving");
      putBack(state);
      say("The board could not reach the server; the deal was not moved.", true);
    });
  }

  function openClosing(dialogId, url, card) {
    var dialog = document.getElementById(dialogId);
    var form = dialog.querySelector("form");
    form.action = url;
    dialog.querySelector("[data-deal-name]").textContent = card.dataset.name;
    dialog.showModal();
    var field = form.querySelector("textarea, input:not([type=hidden])");
    if (field) field.focus();
  }

  document.querySelectorAll(".board-dialog [data-dialog-cancel]").forEach(function (button) {
    button.addEventListener("click", function () {
      button.closest("dialog").close();
    });
  });

  board.addEventListener("dragstart", function (event) {
    var card = event.target.closest && event.target.closest(".deal-card[draggable=true]");
    if (!card) return;
    var column = card.closest(".board-col");
    dragged = { card: card, column: column, next: card.nextElementSibling };
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.dataset.deal);
    card.classList.add("is-dragging");
  });

  board.addEventListener("dragend", function () {
    if (dragged) dragged.card.classList.remove("is-dragging");
    board.querySelectorAll(".is-drop-target").forEach(function (el) {
      el.classList.remove("is-drop-target");
    });
  });

  function dropColumn(event) {
    if (!dragged) return null;
    var column = event.target.closest && event.target.closest(".board-col");
    return column && column !== dragged.column ? column : null;
  }

  board.addEventListener("dragover", function (event) {
    var column = dropColumn(event);
    if (!column) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    column.classList.add("is-drop-target");
  });

  board.addEventListener("dragleave", function (event) {
    var column = event.target.closest && event.target.closest(".board-col");
    if (column && !column.contains(event.relatedTarget)) column.classList.remove("is-drop-target");
  });

  board.addEventListener("drop", function (event) {
    var column = dropColumn(event);
    if (!column) return;
    event.preventDefault();
    column.classList.remove("is-drop-target");
    var state = dragged;
    dragged = null;
    state.card.classList.remove("is-dragging");
    var stage = column.dataset.stage;
    if (stage === "won") {
      openClosing("board-win", state.card.dataset.winUrl, state.card);
    } else if (stage === "lost") {
      openClosing("board-lose", state.card.dataset.loseUrl, state.card);
    } else {
      move(state, column);
    }
  });

  // A card that came with "Show more" was not on the page at load: nothing to bind, the board
  // listens for every card. htmx drops a 4xx answer's body; the board has none to show.
})();
